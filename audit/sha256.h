// SHA-256 of a file, for provenance (which exact model config, table and matrices an audit saw).
#pragma once

#include <string>

namespace rootopt::audit {

// Lower-case hex digest; throws rootopt::Error naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace rootopt::audit
