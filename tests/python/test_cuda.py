"""The CUDA path of the binding: device pointers and a non-default stream as integers, against the
fp64 reference. Device memory comes from libcudart through ctypes (Debian's torch is CPU-only);
with a CUDA build of torch (tools/gpu-check), rootopt.torch.ROOT on CUDA tensors: fp32 and bf16
parameters against the CPU backend, on a non-default stream, without a host synchronisation in
step(), and the distributed path over a gloo and an NCCL group of one against the
single-process optimizer. Skipped, with the reason, without the CUDA backend or a device."""
import ctypes
import ctypes.util
import datetime
import os
import tempfile
import unittest
import warnings

import torch
import torch.distributed as dist

import distributed_support as ds
import reference as ref
from rootopt import _rootopt as rt
from rootopt.torch import ROOT
from test_root_step import BF16_TOL, FP32_TOL

HOST_TO_DEVICE, DEVICE_TO_HOST = 1, 2


def load_cudart():
    for name in (ctypes.util.find_library("cudart"), "/usr/local/cuda/lib64/libcudart.so"):
        if name and (os.path.exists(name) or "/" not in name):
            try:
                return ctypes.CDLL(name)
            except OSError:
                pass
    return None


CUDART = load_cudart() if rt.Optimizer.cuda_available() else None


def check(status, call):
    if status != 0:
        raise RuntimeError(f"{call} failed with cudaError {status}")


class DeviceBuffer:
    """cudaMalloc'd copy of a contiguous CPU tensor."""

    def __init__(self, host):
        self.host = host.contiguous().clone()
        self.ptr = ctypes.c_void_p()
        self.bytes = self.host.numel() * self.host.element_size()
        check(CUDART.cudaMalloc(ctypes.byref(self.ptr), ctypes.c_size_t(self.bytes)), "cudaMalloc")
        self.upload(self.host)

    def upload(self, host):
        check(CUDART.cudaMemcpy(self.ptr, ctypes.c_void_p(host.contiguous().data_ptr()),
                                ctypes.c_size_t(self.bytes), HOST_TO_DEVICE), "cudaMemcpy")

    def download(self):
        out = torch.empty_like(self.host)
        check(CUDART.cudaMemcpy(ctypes.c_void_p(out.data_ptr()), self.ptr,
                                ctypes.c_size_t(self.bytes), DEVICE_TO_HOST), "cudaMemcpy")
        return out

    def free(self):
        CUDART.cudaFree(self.ptr)


@unittest.skipUnless(CUDART is not None,
                     "no CUDA: this build has no CUDA backend or no device is present")
class CudaBindingTest(ref.TableTestCase):
    SHAPES = [(16, 40), (40, 16), (24, 24), (8, 27), (7, 300), (300, 7)]

    def setUp(self):
        self.stream = ctypes.c_void_p()
        check(CUDART.cudaStreamCreate(ctypes.byref(self.stream)), "cudaStreamCreate")
        self.addCleanup(CUDART.cudaStreamDestroy, self.stream)

    def run_device(self, dtype, precision, tol, frobenius):
        hyper = rt.Hyperparams()
        hyper.lr, hyper.precision = 0.05, precision
        policy = rt.FallbackPolicy(rt.FallbackPolicy.Kind.named, "muon")
        optimizer = rt.Optimizer(rt.Table(self.table), policy, rt.Device.cuda, hyper)
        generator = torch.Generator().manual_seed(3)
        params, momenta, buffers = [], [], []
        for shape in self.SHAPES:
            params.append((0.01 * torch.randn(shape, generator=generator)).to(dtype))
            buffers.append((DeviceBuffer(params[-1]), DeviceBuffer(params[-1]),
                            DeviceBuffer(torch.zeros(shape))))
            momenta.append(torch.zeros(shape, dtype=torch.float64))
            p, g, m = buffers[-1]
            optimizer.add_param(f"w{shape}", 1, *shape, rt.DType.fp32 if dtype == torch.float32
                                else rt.DType.bf16, p.ptr.value, g.ptr.value, m.ptr.value)
        self.addCleanup(lambda: [b.free() for trio in buffers for b in trio])
        for step in range(2):
            expected = []
            for i, shape in enumerate(self.SHAPES):
                grad = torch.randn(shape, generator=generator).to(dtype)
                buffers[i][1].upload(grad)
                lookup = optimizer.schedule(i)
                _, momenta[i], x_ref = ref.root_step(params[i], grad, momenta[i],
                                                     lookup["coefficients"], lr=0.05)
                expected.append(x_ref)
            optimizer.step(self.stream.value or 0)
            check(CUDART.cudaStreamSynchronize(self.stream), "cudaStreamSynchronize")
            self.assertEqual(optimizer.last_report(), (step + 1, []))
            for i, shape in enumerate(self.SHAPES):
                with self.subTest(shape=shape, step=step):
                    new = buffers[i][0].download()
                    factor = 0.05 * ref.scale_factor(*shape, "rms")
                    x = ((1 - 0.05 * 0.1) * params[i].double() - new.double()) / factor
                    norm = torch.linalg.vector_norm if frobenius else (lambda t: t.abs().max())
                    self.assertGreater(expected[i].abs().max().item(), 1e-3)
                    ulp = 2.0 ** -7 if dtype == torch.bfloat16 else 2.0 ** -23
                    bound = tol * norm(expected[i]) + ulp * norm(new.double()) / factor
                    self.assertLessEqual(norm(x - expected[i]).item(), bound.item())
                    torch.testing.assert_close(buffers[i][2].download().double(), momenta[i],
                                               rtol=1e-5, atol=1e-5)
                    params[i] = new

    def test_fp32_on_a_stream(self):
        self.run_device(torch.float32, rt.Precision.fp32, FP32_TOL, frobenius=False)

    def test_bf16_on_a_stream(self):
        self.run_device(torch.bfloat16, rt.Precision.bf16, BF16_TOL, frobenius=True)


@unittest.skipUnless(torch.cuda.is_available() and rt.Optimizer.cuda_available(),
                     "needs a CUDA build of torch (Debian's python3-torch is CPU-only) and the "
                     "CUDA backend")
class TorchCudaTest(unittest.TestCase):
    def compare_with_cpu(self, dtype, precision, atol):
        generator = torch.Generator().manual_seed(5)
        cpu = [torch.nn.Parameter(torch.randn(s, generator=generator).to(dtype)) for s in
               ((16, 40), (40, 16), (8, 3, 3, 3), (4, 16, 40), (16,))]
        gpu = [torch.nn.Parameter(p.detach().cuda()) for p in cpu]
        options = dict(lr=0.05, precision=precision)
        optimizers = ROOT(cpu, **options), ROOT(gpu, **options)
        stream = torch.cuda.Stream()
        for _ in range(2):
            for p, q in zip(cpu, gpu):
                p.grad = torch.randn(p.shape, generator=generator).to(dtype)
                q.grad = p.grad.cuda()
            optimizers[0].step()
            stream.wait_stream(torch.cuda.current_stream())  # the gradients were made there
            with torch.cuda.stream(stream):
                optimizers[1].step()
            torch.cuda.synchronize()
            for p, q in zip(cpu, gpu):
                torch.testing.assert_close(q.detach().cpu().double(), p.detach().double(),
                                           rtol=0, atol=atol)

    def test_fp32_cuda_tensors_match_the_cpu_backend(self):
        # fp32 on both backends: the update (lr * scale * X <= 0.07) agrees to FP32_TOL
        # relative, and |theta| <= 5 adds fp32 rounding of 6e-7.
        self.compare_with_cpu(torch.float32, "fp32", 1e-5)

    def test_bf16_cuda_parameters_match_the_cpu_backend(self):
        # bf16 weights |theta| <= 5: one bf16 rounding of the result is up to 2^-7 * 4 = 0.03;
        # the two backends' bf16 Newton-Schulz differ by BF16_TOL of an update <= 0.07.
        self.compare_with_cpu(torch.bfloat16, "bf16", 0.035)

    def test_step_does_not_wait_for_the_runtime(self):
        # The runtime's own report (a NaN momentum, an overflow) synchronises the stream, so
        # step() never reads it on CUDA; last_report() does, when asked.
        p = torch.nn.Parameter(torch.randn(64, 256, device="cuda"))
        optimizer = ROOT([p], lr=0.05)
        reads = []
        skipped = optimizer._runtimes.skipped
        optimizer._runtimes.skipped = lambda: reads.append(1) or skipped()
        for _ in range(3):
            p.grad = torch.randn_like(p)
            optimizer.step()
        self.assertEqual(reads, [])
        self.assertEqual(optimizer.last_report(), {"skipped": [], "runtime_skipped": []})
        self.assertEqual(reads, [1])


@unittest.skipUnless(torch.cuda.is_available() and rt.Optimizer.cuda_available(),
                     "needs a CUDA build of torch (Debian's python3-torch is CPU-only) and the "
                     "CUDA backend")
class DistributedCudaTest(unittest.TestCase):
    """The distributed path on CUDA tensors over a group of one (gloo, then NCCL if available):
    the same results as the single-process optimizer, bit for bit, replicated and sharded,
    and a consolidated state that resumes."""

    def run_group(self, backend):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        table = None  # the named fallback: bit-identity needs no table (nor h5py to write one)
        dist.init_process_group(backend, init_method=f"file://{tmp.name}/store", rank=0,
                                world_size=1, timeout=datetime.timedelta(seconds=60))
        self.addCleanup(dist.destroy_process_group)
        warnings.simplefilter("ignore", RuntimeWarning)
        self.addCleanup(warnings.resetwarnings)
        for sharded in (False, True):
            model, twin = ds.Mixed().cuda(), ds.Mixed().cuda()
            optimizer = ROOT(model.groups(sharded=sharded), process_group=dist.group.WORLD,
                             **ds.options(table))
            reference = ROOT(twin.groups(), **ds.options(table))
            for step in range(3):
                grads = ds.grads(step)
                for m in (model, twin):
                    for name, p in m.named_parameters():
                        p.grad = grads[name].cuda()
                optimizer.step()
                reference.step()
                for (name, p), q in zip(model.named_parameters(), twin.parameters()):
                    self.assertTrue(torch.equal(p, q), f"{backend} sharded={sharded}: {name}")
            optimizer.consolidate_state_dict(to=0)
            state = optimizer.state_dict()
            expected = reference.state_dict()
            for key, value in expected["state"].items():
                for name, tensor in value.items():
                    self.assertTrue(torch.equal(torch.as_tensor(state["state"][key][name]).cpu(),
                                                torch.as_tensor(tensor).cpu()), (key, name))

    def test_gloo_group_of_one(self):
        self.run_group("gloo")

    @unittest.skipUnless(dist.is_nccl_available(), "this torch has no NCCL")
    def test_nccl_group_of_one(self):
        self.run_group("nccl")


if __name__ == "__main__":
    unittest.main()
