// The legacy reader (h5_reader.h): rootopt's own reader of HDF5 files without metadata checksums
// (superblock version 0 or 1), for the subset rootopt's formats use: "old-style" groups (symbol
// table, version-1 B-tree, local heap), version-1 object headers with continuation chunks,
// attribute messages (versions 1 to 3), contiguous or compact datasets of little-endian integers,
// IEEE floats and fixed-length strings, and variable-length strings in global heap collections.
// Anything else is refused as unsupported. Every offset, length and count read from the file is
// checked against the bytes and against the structure that contains it before it is used, so a
// damaged file is an error, never an out-of-bounds read.
//
// Layouts: "HDF5 File Format Specification Version 3.0" (The HDF Group), sections II.A
// (superblock), III.A.1 (version-1 B-trees), III.B (group symbol table nodes), III.C (symbol
// table entry), III.D (local heaps), III.E (global heap), IV.A.1.a (version-1 object headers),
// IV.A.2 (messages: dataspace 0x0001, datatype 0x0003, data layout 0x0008, filter pipeline
// 0x000B, attribute 0x000C, continuation 0x0010, symbol table 0x0011).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "check.h"
#include "h5_reader_backends.h"

namespace rootopt::h5 {
namespace {

constexpr uint64_t kUndefined = std::numeric_limits<uint64_t>::max();
// Limits on what a damaged file can make the reader walk: far above any file rootopt or h5py
// writes for these formats (a version-1 table holds ~20 attributes and 3 links).
constexpr int64_t kMaxHeaderChunks = 256;
constexpr int64_t kMaxHeaderMessages = 1 << 16;
constexpr int64_t kMaxGroupLinks = 1 << 20;
constexpr int64_t kMaxTreeNodes = 1 << 16;
constexpr int kMaxTreeDepth = 32;
constexpr int kMaxRank = 32;  // HDF5's own limit (H5S_MAX_RANK)

enum MessageType : uint16_t {
  kDataspace = 0x0001,
  kLinkInfo = 0x0002,
  kDatatype = 0x0003,
  kLink = 0x0006,
  kLayout = 0x0008,
  kFilterPipeline = 0x000B,
  kAttribute = 0x000C,
  kContinuation = 0x0010,
  kSymbolTable = 0x0011,
};

uint64_t round_up_8(uint64_t n) { return (n + 7) / 8 * 8; }

// One header message: where its data lies in the file.
struct Message {
  uint16_t type = 0;
  uint8_t flags = 0;
  uint64_t offset = 0;  // absolute
  uint64_t size = 0;
};

// A decoded datatype: what ValueInfo says, plus what decoding needs.
struct Type {
  ValueInfo info;
  bool vlen_sequence = false;  // a variable-length sequence of something other than characters
  int string_padding = 0;      // 0 null-terminated, 1 null-padded, 2 space-padded
};

struct Space {
  std::vector<hsize_t> extents;
  bool null = false;  // H5S_NULL: no elements at all
};

struct Attribute {
  Type type;
  Space space;
  uint64_t data = 0, data_size = 0;  // absolute
};

struct Dataset {
  Type type;
  Space space;
  uint64_t data = kUndefined, data_size = 0;  // absolute address of the stored elements
  bool filtered = false;
  bool chunked = false;
  int layout_version = 3;
};

class LegacyReader final : public Reader {
 public:
  LegacyReader(std::shared_ptr<const FileBytes> bytes, const std::string& name, uint64_t signature)
      : Reader(name), bytes_(std::move(bytes)), view_(bytes_->view()) {
    parse_superblock(signature);
  }

  bool reads_variable_length() const override { return true; }

  bool exists(const std::string& path) const override { return lookup(path).has_value(); }

  ValueInfo dataset(const std::string& path) const override { return open(path).type.info; }

  bool is_group(const std::string& path) const override {
    const auto header = lookup(path);
    return header.has_value() && is_group_header(*header);
  }

  std::vector<std::string> group_members(const std::string& path) const override {
    const auto header = lookup(path);
    ROOTOPT_CHECK(header.has_value(), name(), ": missing group '", path, "'");
    ROOTOPT_CHECK(is_group_header(*header), name(), ": '", path, "' is not a group");
    std::vector<std::string> names;
    for (const auto& [link, address] : links(*header)) names.push_back(link);
    return names;
  }

  std::vector<int64_t> read_ints(const std::string& path) const override {
    const Dataset set = open(path);
    ROOTOPT_CHECK(set.type.info.cls == ValueClass::integer, name(), ": dataset '", path,
                  "' is not an integer dataset");
    const auto [data, count] = elements(set, path);
    std::vector<int64_t> values(count);
    for (size_t i = 0; i < count; ++i)
      values[i] = integer_at(data + i * set.type.info.size, set.type.info, path);
    return values;
  }

  std::vector<double> read_doubles(const std::string& path) const override {
    return read_float_data<double>(path);
  }

  std::vector<float> read_floats(const std::string& path) const override {
    return read_float_data<float>(path);
  }

  std::vector<std::string> read_strings(const std::string& path,
                                        size_t max_string_bytes) const override {
    const Dataset set = open(path);
    const ValueInfo& info = set.type.info;
    ROOTOPT_CHECK(info.cls == ValueClass::string, name(), ":/", path, " is not a string dataset");
    ROOTOPT_CHECK(!info.variable_length, name(), ":/", path,
                  " holds variable-length strings; this format stores fixed-length strings "
                  "(h5py: np.bytes_ values or dtype 'S')");
    ROOTOPT_CHECK(info.size > 0 && info.size <= max_string_bytes, name(), ":/", path,
                  ": string size ", info.size, " bytes is outside [1, ", max_string_bytes, "]");
    const auto [data, count] = elements(set, path);
    std::vector<std::string> values;
    for (size_t i = 0; i < count; ++i)
      values.push_back(fixed_string(data + i * info.size, info.size, set.type.string_padding));
    return values;
  }

  std::optional<ValueInfo> attribute(const std::string& object,
                                     const std::string& attr) const override {
    const auto found = find_attribute(object, attr);
    if (!found) return std::nullopt;
    return found->type.info;
  }

  int64_t read_int_attribute(const std::string& object, const std::string& attr) const override {
    const Attribute a = single_value(object, attr);
    ROOTOPT_CHECK(a.type.info.cls == ValueClass::integer, name(), ": attribute '", attr,
                  "' is not an integer");
    return integer_at(a.data, a.type.info, "attribute " + attr);
  }

  double read_double_attribute(const std::string& object, const std::string& attr) const override {
    const Attribute a = single_value(object, attr);
    if (a.type.info.cls == ValueClass::integer)
      return double(integer_at(a.data, a.type.info, "attribute " + attr));
    ROOTOPT_CHECK(a.type.info.cls == ValueClass::floating, name(), ": attribute '", attr,
                  "' is not a number");
    return float_at<double>(a.data, a.type.info.size);
  }

  std::string read_string_attribute(const std::string& object, const std::string& attr,
                                    StringStorage accepted) const override {
    const Attribute a = single_value(object, attr);
    const ValueInfo& info = a.type.info;
    ROOTOPT_CHECK(info.cls == ValueClass::string, name(), ": attribute '", attr,
                  "' is not a string");
    if (!info.variable_length) return fixed_string(a.data, info.size, a.type.string_padding);
    ROOTOPT_CHECK(accepted == StringStorage::fixed_or_variable, name(), ": attribute '", attr,
                  "' is a variable-length string; this format stores fixed-length strings "
                  "(h5py: np.bytes_(text))");
    return heap_string(a.data, attr);
  }

 private:
  [[noreturn]] void damaged(const std::string& what) const {
    ROOTOPT_FAIL(name(), ": cannot read HDF5 file, damaged or unsupported (", what, ")");
  }

  // --- bounds-checked access to the bytes --------------------------------------------------

  void need(uint64_t offset, uint64_t length, const char* what) const {
    if (offset > view_.size() || length > view_.size() - offset)
      damaged(std::string(what) + " at byte " + std::to_string(offset) + " extends past the end " +
              "of the file (" + std::to_string(view_.size()) + " bytes; truncated?)");
  }
  uint64_t u(uint64_t offset, int bytes, const char* what) const {
    need(offset, uint64_t(bytes), what);
    uint64_t value = 0;
    for (int i = bytes - 1; i >= 0; --i)
      value = value << 8 | static_cast<unsigned char>(view_[offset + uint64_t(i)]);
    return value;
  }
  bool has_signature(uint64_t offset, const char* signature) const {
    return offset <= view_.size() && view_.size() - offset >= 4 &&
           std::memcmp(view_.data() + offset, signature, 4) == 0;
  }
  // A file address (relative to the base address) as an offset into the bytes.
  uint64_t absolute(uint64_t address, const char* what) const {
    if (address == kUndefined) damaged(std::string(what) + " has no address");
    if (address > view_.size() || base_ > view_.size() - address)
      damaged(std::string(what) + " at address " + std::to_string(address) +
              " lies outside the file");
    return base_ + address;
  }

  // --- superblock --------------------------------------------------------------------------

  void parse_superblock(uint64_t signature) {
    const uint64_t version = u(signature + 8, 1, "superblock");
    ROOTOPT_ASSERT(version <= 1, "legacy reader for superblock version ", version);
    const uint64_t offsets = u(signature + 13, 1, "superblock"),
                   lengths = u(signature + 14, 1, "superblock");
    if (offsets != 8 || lengths != 8)
      damaged("file addresses of " + std::to_string(offsets) + " and lengths of " +
              std::to_string(lengths) + " bytes; only 8 is supported");
    uint64_t at = signature + 24 + (version == 1 ? 4 : 0);
    base_ = u(at, 8, "superblock");
    const uint64_t end = u(at + 16, 8, "superblock");
    if (base_ > view_.size()) damaged("base address beyond the end of the file");
    if (end != kUndefined && end > view_.size() - base_)
      damaged("truncated file: the superblock says " + std::to_string(end) +
              " bytes, the file has " + std::to_string(view_.size() - base_));
    // The root group's symbol table entry: its object header address.
    root_ = u(at + 32 + 8, 8, "superblock root entry");
  }

  // --- object headers ----------------------------------------------------------------------

  const std::vector<Message>& messages(uint64_t header) const {
    if (const auto it = headers_.find(header); it != headers_.end()) return it->second;
    const uint64_t start = absolute(header, "object header");
    const uint64_t version = u(start, 1, "object header");
    if (version != 1)
      damaged("object header at " + std::to_string(header) + " has version " +
              std::to_string(version) + " (only version 1 is read without checksums)");
    std::vector<std::pair<uint64_t, uint64_t>> chunks = {
        {start + 16, u(start + 8, 4, "object header")}};
    std::set<uint64_t> seen_chunks = {start + 16};
    std::vector<Message> list;
    for (size_t c = 0; c < chunks.size(); ++c) {
      if (int64_t(c) >= kMaxHeaderChunks) damaged("object header with too many chunks");
      auto [at, size] = chunks[c];
      need(at, size, "object header chunk");
      const uint64_t end = at + size;
      while (end - at >= 8) {
        Message m;
        m.type = uint16_t(u(at, 2, "header message"));
        m.size = u(at + 2, 2, "header message");
        m.flags = uint8_t(u(at + 4, 1, "header message"));
        m.offset = at + 8;
        if (m.size > end - m.offset)
          damaged("header message of type " + std::to_string(m.type) + " at byte " +
                  std::to_string(at) + " runs past its object header chunk");
        if (int64_t(list.size()) >= kMaxHeaderMessages) damaged("object header too long");
        if (m.type == kContinuation) {
          if (m.size < 16) damaged("continuation message too short");
          const uint64_t next = absolute(u(m.offset, 8, "continuation"), "continuation chunk");
          const uint64_t length = u(m.offset + 8, 8, "continuation");
          if (!seen_chunks.insert(next).second) damaged("object header chunks form a loop");
          chunks.emplace_back(next, length);
        }
        list.push_back(m);
        at = m.offset + m.size;
      }
    }
    return headers_.emplace(header, std::move(list)).first->second;
  }

  std::optional<Message> first_message(uint64_t header, uint16_t type) const {
    for (const Message& m : messages(header))
      if (m.type == type) return m;
    return std::nullopt;
  }

  bool is_group_header(uint64_t header) const {
    return first_message(header, kSymbolTable).has_value() ||
           first_message(header, kLinkInfo).has_value() || first_message(header, kLink).has_value();
  }

  // --- groups: symbol table, version-1 B-tree, local heap ------------------------------------

  const std::map<std::string, uint64_t>& links(uint64_t group) const {
    if (const auto it = groups_.find(group); it != groups_.end()) return it->second;
    const auto table = first_message(group, kSymbolTable);
    if (!table) {
      if (first_message(group, kLinkInfo) || first_message(group, kLink))
        damaged(
            "a group in the newer link-message layout (write the file with checksummed "
            "metadata: libver v110)");
      damaged("object at " + std::to_string(group) + " is not a group");
    }
    if (table->size < 16) damaged("symbol table message too short");
    const uint64_t tree = u(table->offset, 8, "symbol table message");
    const uint64_t heap = absolute(u(table->offset + 8, 8, "symbol table message"), "local heap");
    if (!has_signature(heap, "HEAP") || u(heap + 4, 1, "local heap") != 0)
      damaged("local heap at byte " + std::to_string(heap) + " has no valid signature");
    const uint64_t heap_size = u(heap + 8, 8, "local heap");
    const uint64_t heap_data = absolute(u(heap + 24, 8, "local heap"), "local heap data");
    need(heap_data, heap_size, "local heap data");
    std::map<std::string, uint64_t> found;
    int64_t nodes = 0;
    walk_tree(tree, -1, 0, heap_data, heap_size, found, nodes);
    return groups_.emplace(group, std::move(found)).first->second;
  }

  // Collects the entries below B-tree node `address`; `level` is the expected node level (-1:
  // the root, any).
  void walk_tree(uint64_t address, int64_t level, int depth, uint64_t heap_data, uint64_t heap_size,
                 std::map<std::string, uint64_t>& found, int64_t& nodes) const {
    if (depth > kMaxTreeDepth || ++nodes > kMaxTreeNodes) damaged("group B-tree too deep or large");
    const uint64_t node = absolute(address, "group B-tree node");
    if (!has_signature(node, "TREE") || u(node + 4, 1, "B-tree node") != 0)
      damaged("group B-tree node at byte " + std::to_string(node) + " has no valid signature");
    const int64_t node_level = int64_t(u(node + 5, 1, "B-tree node"));
    if (level >= 0 && node_level != level) damaged("group B-tree levels are inconsistent");
    const uint64_t entries = u(node + 6, 2, "B-tree node");
    // Keys and children alternate after the 24-byte header: key_0 child_0 ... child_n-1 key_n.
    need(node + 24, (2 * entries + 1) * 8, "group B-tree node");
    for (uint64_t i = 0; i < entries; ++i) {
      const uint64_t child = u(node + 24 + (2 * i + 1) * 8, 8, "B-tree node");
      if (node_level > 0)
        walk_tree(child, node_level - 1, depth + 1, heap_data, heap_size, found, nodes);
      else
        read_symbol_node(child, heap_data, heap_size, found);
    }
  }

  void read_symbol_node(uint64_t address, uint64_t heap_data, uint64_t heap_size,
                        std::map<std::string, uint64_t>& found) const {
    const uint64_t node = absolute(address, "symbol table node");
    if (!has_signature(node, "SNOD") || u(node + 4, 1, "symbol table node") != 1)
      damaged("symbol table node at byte " + std::to_string(node) + " has no valid signature");
    const uint64_t count = u(node + 6, 2, "symbol table node");
    need(node + 8, count * 40, "symbol table node");
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t entry = node + 8 + 40 * i;
      const uint64_t name_offset = u(entry, 8, "symbol table entry");
      if (name_offset >= heap_size) damaged("link name outside its local heap");
      const char* text = view_.data() + heap_data + name_offset;
      const size_t length = strnlen(text, size_t(heap_size - name_offset));
      if (length == heap_size - name_offset) damaged("link name not terminated in its heap");
      if (int64_t(found.size()) >= kMaxGroupLinks) damaged("group with too many links");
      if (!found.emplace(std::string(text, length), u(entry + 8, 8, "symbol table entry")).second)
        damaged("group lists the link '" + std::string(text, length) + "' twice");
    }
  }

  // The object header address of `path` ("" is the root), nullopt when a link is missing.
  std::optional<uint64_t> lookup(const std::string& path) const {
    uint64_t header = root_;
    size_t start = 0;
    while (start < path.size()) {
      size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      if (end > start) {
        if (!is_group_header(header)) return std::nullopt;
        const auto& members = links(header);
        const auto it = members.find(path.substr(start, end - start));
        if (it == members.end()) return std::nullopt;
        header = it->second;
      }
      start = end + 1;
    }
    return header;
  }

  // --- types, spaces, attributes, datasets --------------------------------------------------

  Type parse_type(uint64_t at, uint64_t limit, int depth = 0) const {
    if (limit < 8 || depth > 2) damaged("datatype message too short or nested too deeply");
    const uint64_t head = u(at, 1, "datatype");
    const uint64_t bits = u(at + 1, 3, "datatype");
    const uint64_t cls = head & 0x0F, version = head >> 4;
    if (version < 1 || version > 3) damaged("datatype version " + std::to_string(version));
    Type type;
    type.info.size = size_t(u(at + 4, 4, "datatype"));
    switch (cls) {
      case 0: {  // fixed-point: little-endian, no padding bits
        if (limit < 12) damaged("integer datatype too short");
        const bool little = (bits & 1) == 0;
        const size_t size = type.info.size;
        if (!little || (size != 1 && size != 2 && size != 4 && size != 8) ||
            u(at + 8, 2, "datatype") != 0 || u(at + 10, 2, "datatype") != 8 * size)
          return type;  // class other: unsupported integer layout
        type.info.cls = ValueClass::integer;
        type.info.is_signed = (bits & 8) != 0;
        return type;
      }
      case 1: {  // floating point: exactly IEEE-754 binary32 or binary64, little-endian
        if (limit < 20) damaged("float datatype too short");
        const uint64_t sign = (bits >> 8) & 0xFF;
        const uint64_t offset = u(at + 8, 2, "datatype"), precision = u(at + 10, 2, "datatype"),
                       exp_at = u(at + 12, 1, "datatype"), exp_size = u(at + 13, 1, "datatype"),
                       mant_at = u(at + 14, 1, "datatype"), mant_size = u(at + 15, 1, "datatype"),
                       bias = u(at + 16, 4, "datatype");
        const bool ieee32 = type.info.size == 4 && precision == 32 && exp_at == 23 &&
                            exp_size == 8 && mant_size == 23 && bias == 127 && sign == 31;
        const bool ieee64 = type.info.size == 8 && precision == 64 && exp_at == 52 &&
                            exp_size == 11 && mant_size == 52 && bias == 1023 && sign == 63;
        if ((bits & 0x41) == 0 && offset == 0 && mant_at == 0 && (ieee32 || ieee64))
          type.info.cls = ValueClass::floating;
        return type;
      }
      case 3:  // fixed-length string
        if (type.info.size == 0) damaged("string datatype of size 0");
        type.info.cls = ValueClass::string;
        type.string_padding = int(bits & 0x0F);
        return type;
      case 9: {  // variable-length: a string, or a sequence of something
        const Type base = parse_type(at + 8, limit - 8, depth + 1);
        if ((bits & 0x0F) == 1 && base.info.cls == ValueClass::integer && base.info.size == 1) {
          type.info.cls = ValueClass::string;
          type.info.variable_length = true;
        } else {
          type.vlen_sequence = true;
        }
        type.info.size = 16;  // on disk: length (4), global heap collection (8), index (4)
        return type;
      }
      default:
        return type;  // other classes: reported as such, never decoded
    }
  }

  Space parse_space(uint64_t at, uint64_t limit) const {
    if (limit < 8) damaged("dataspace message too short");
    const uint64_t version = u(at, 1, "dataspace");
    const uint64_t rank = u(at + 1, 1, "dataspace");
    if (rank > uint64_t(kMaxRank)) damaged("dataspace of rank " + std::to_string(rank));
    Space space;
    uint64_t dims_at = 0;
    if (version == 1) {
      dims_at = at + 8;
    } else if (version == 2) {
      const uint64_t kind = u(at + 3, 1, "dataspace");
      if (kind > 2) damaged("dataspace of unknown kind");
      space.null = kind == 2;
      dims_at = at + 4;
    } else {
      damaged("dataspace version " + std::to_string(version));
    }
    if (dims_at - at + rank * 8 > limit) damaged("dataspace extents outside the message");
    for (uint64_t d = 0; d < rank; ++d) space.extents.push_back(u(dims_at + 8 * d, 8, "dataspace"));
    element_count(space.extents, name());  // throws on overflow
    return space;
  }

  std::optional<Attribute> find_attribute(const std::string& object,
                                          const std::string& wanted) const {
    const auto header = lookup(object);
    ROOTOPT_CHECK(header.has_value(), name(), ": missing object '", object, "'");
    for (const Message& m : messages(*header)) {
      if (m.type != kAttribute) continue;
      const uint64_t end = m.offset + m.size;
      if (m.size < 8) damaged("attribute message too short");
      const uint64_t version = u(m.offset, 1, "attribute");
      if (version < 1 || version > 3) damaged("attribute version " + std::to_string(version));
      if (version >= 2 && (u(m.offset + 1, 1, "attribute") & 3) != 0)
        damaged("attribute with a shared datatype or dataspace");
      const uint64_t name_size = u(m.offset + 2, 2, "attribute"),
                     type_size = u(m.offset + 4, 2, "attribute"),
                     space_size = u(m.offset + 6, 2, "attribute");
      const auto field = [&](uint64_t n) { return version == 1 ? round_up_8(n) : n; };
      const uint64_t name_at = m.offset + (version == 3 ? 9 : 8);
      const uint64_t type_at = name_at + field(name_size);
      const uint64_t space_at = type_at + field(type_size);
      const uint64_t data_at = space_at + field(space_size);
      if (name_size == 0 || data_at > end) damaged("attribute message fields overflow it");
      const char* text = view_.data() + name_at;
      if (text[name_size - 1] != '\0' || strnlen(text, name_size) != name_size - 1)
        damaged("attribute name not terminated");
      if (std::string(text, name_size - 1) != wanted) continue;
      Attribute a;
      a.type = parse_type(type_at, type_size);
      a.space = parse_space(space_at, space_size);
      a.type.info.extents = a.space.extents;
      a.data = data_at;
      a.data_size = end - data_at;
      return a;
    }
    return std::nullopt;
  }

  Attribute single_value(const std::string& object, const std::string& attr) const {
    const auto a = find_attribute(object, attr);
    ROOTOPT_CHECK(a.has_value(), name(), ": missing attribute '", attr, "'");
    const hsize_t count = a->space.null ? 0 : element_count(a->space.extents, name());
    ROOTOPT_CHECK(count == 1, name(), ": attribute '", attr, "' holds ", count,
                  " values, expected one");
    if (a->type.info.size > a->data_size) damaged("attribute '" + attr + "' value truncated");
    return *a;
  }

  Dataset open(const std::string& path) const {
    const auto header = lookup(path);
    ROOTOPT_CHECK(header.has_value() && !path.empty(), name(), ": missing dataset '", path, "'");
    const auto type = first_message(*header, kDatatype);
    const auto space = first_message(*header, kDataspace);
    const auto layout = first_message(*header, kLayout);
    ROOTOPT_CHECK(type && space && layout, name(), ": cannot open '", path, "' as a dataset");
    if ((type->flags & 2) != 0) damaged("dataset '" + path + "' has a shared datatype");
    Dataset set;
    set.type = parse_type(type->offset, type->size);
    set.space = parse_space(space->offset, space->size);
    set.type.info.extents = set.space.extents;
    set.filtered = first_message(*header, kFilterPipeline).has_value();
    if (layout->size < 4) damaged("layout message too short");
    set.layout_version = int(u(layout->offset, 1, "layout"));
    if (set.layout_version != 3) return set;  // refused when read
    const uint64_t cls = u(layout->offset + 1, 1, "layout");
    if (cls == 0) {  // compact: the data is in the message
      set.data_size = u(layout->offset + 2, 2, "layout");
      set.data = layout->offset + 4;
      if (set.data_size > layout->size - 4) damaged("compact data outside its layout message");
    } else if (cls == 1) {  // contiguous
      if (layout->size < 18) damaged("layout message too short");
      const uint64_t address = u(layout->offset + 2, 8, "layout");
      set.data_size = u(layout->offset + 10, 8, "layout");
      set.data = address == kUndefined ? kUndefined : absolute(address, "dataset data");
    } else {
      set.chunked = true;
    }
    return set;
  }

  // Start (absolute) and count of a dataset's stored elements, all of them within the file.
  std::pair<uint64_t, size_t> elements(const Dataset& set, const std::string& path) const {
    if (set.layout_version != 3)
      damaged("dataset '" + path + "' uses data layout version " +
              std::to_string(set.layout_version) + " (HDF5 before 1.6)");
    if (set.chunked || set.filtered)
      damaged("dataset '" + path +
              "' is chunked or filtered; without metadata checksums only "
              "contiguous data is read (write with libver v110 for checksummed chunks)");
    if (set.type.vlen_sequence || set.type.info.cls == ValueClass::other)
      damaged("dataset '" + path + "' has an unsupported element type");
    const hsize_t count = set.space.null ? 0 : element_count(set.space.extents, name());
    if (count == 0) return {0, 0};
    const uint64_t size = set.type.info.size;
    if (count > view_.size() / size)
      damaged("dataset '" + path + "' declares more data than the file holds");
    if (set.data == kUndefined) damaged("dataset '" + path + "' holds no data (never written)");
    if (set.data_size < count * size) damaged("dataset '" + path + "' stores too few bytes");
    need(set.data, count * size, "dataset data");
    return {set.data, size_t(count)};
  }

  int64_t integer_at(uint64_t at, const ValueInfo& info, const std::string& what) const {
    const auto bytes = int(info.size);
    const uint64_t raw = u(at, bytes, "integer");
    if (!info.is_signed) {
      ROOTOPT_CHECK(raw <= uint64_t(std::numeric_limits<int64_t>::max()), name(), ": ", what,
                    " holds ", raw, ", beyond the int64 range");
      return int64_t(raw);
    }
    if (bytes == 8) return int64_t(raw);
    const uint64_t sign = uint64_t(1) << (8 * bytes - 1);
    return int64_t(raw ^ sign) - int64_t(sign);  // sign extension
  }

  template <typename T>
  T float_at(uint64_t at, size_t size) const {
    const uint64_t raw = u(at, int(size), "float");
    if (size == 4) {
      uint32_t bits = uint32_t(raw);
      float value = 0;
      std::memcpy(&value, &bits, 4);
      return T(value);
    }
    double value = 0;
    std::memcpy(&value, &raw, 8);
    return T(value);
  }

  template <typename T>
  std::vector<T> read_float_data(const std::string& path) const {
    const Dataset set = open(path);
    ROOTOPT_CHECK(set.type.info.cls == ValueClass::floating, name(), ": dataset '", path,
                  "' is not a floating-point dataset");
    const auto [data, count] = elements(set, path);
    std::vector<T> values(count);
    for (size_t i = 0; i < count; ++i)
      values[i] = float_at<T>(data + i * set.type.info.size, set.type.info.size);
    return values;
  }

  std::string fixed_string(uint64_t at, size_t size, int padding) const {
    need(at, size, "string");
    const char* text = view_.data() + at;
    size_t length = padding == 2 ? size : strnlen(text, size);
    while (padding == 2 && length > 0 && text[length - 1] == ' ') --length;
    return std::string(text, length);
  }

  // A variable-length string: its length and heap id are in the attribute; the characters are
  // object `index` of the global heap collection, whose stored size must equal that length.
  std::string heap_string(uint64_t at, const std::string& attr) const {
    const uint64_t length = u(at, 4, "variable-length string");
    if (length == 0) return std::string();
    const uint64_t collection =
        absolute(u(at + 4, 8, "variable-length string"), "global heap collection");
    const uint64_t index = u(at + 12, 4, "variable-length string");
    if (!has_signature(collection, "GCOL") || u(collection + 4, 1, "global heap") != 1)
      damaged("global heap collection of '" + attr + "' has no valid signature");
    const uint64_t size = u(collection + 8, 8, "global heap");
    need(collection, size, "global heap collection");
    const uint64_t end = collection + size;
    for (uint64_t at_object = collection + 16; end - at_object >= 16;) {
      const uint64_t id = u(at_object, 2, "global heap object");
      const uint64_t object_size = u(at_object + 8, 8, "global heap object");
      if (id == 0) break;  // free space: the rest of the collection
      if (round_up_8(object_size) > end - at_object - 16)
        damaged("global heap object outside its collection");
      if (id == index) {
        if (object_size != length)
          damaged("string '" + attr + "' has length " + std::to_string(length) +
                  ", its heap object " + std::to_string(object_size));
        return std::string(view_.data() + at_object + 16, size_t(length));
      }
      at_object += 16 + round_up_8(object_size);
    }
    damaged("global heap object of '" + attr + "' not found");
  }

  std::shared_ptr<const FileBytes> bytes_;
  std::string_view view_;
  uint64_t base_ = 0;
  uint64_t root_ = 0;
  // Parsed structures, by object header address.
  mutable std::map<uint64_t, std::vector<Message>> headers_;
  mutable std::map<uint64_t, std::map<std::string, uint64_t>> groups_;
};

}  // namespace

std::unique_ptr<Reader> make_legacy_reader(std::shared_ptr<const FileBytes> bytes,
                                           const std::string& name, uint64_t signature) {
  return std::make_unique<LegacyReader>(std::move(bytes), name, signature);
}

}  // namespace rootopt::h5
