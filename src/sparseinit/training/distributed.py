"""Data parallelism with torch.distributed (gloo on CPU, nccl on GPU), started by ``torchrun``.

Each global batch is split into contiguous chunks, one per process; each process's loss is its examples' summed
loss divided by the *global* batch size, and gradients are summed across processes (one flat all-reduce). The
update is then the single-process update up to the order of floating-point additions, so K processes give the
same accuracy as one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    """This process's rank, the number of processes and the device it computes on."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, indices: torch.Tensor) -> torch.Tensor:
        """This process's contiguous chunk of a batch's indices."""
        return indices.tensor_split(self.world)[self.rank] if self.world > 1 else indices

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """All-reduce (sum) in place; a no-op in a single process. nccl reduces only GPU tensors, so a CPU
        tensor travels through the device."""
        if self.world > 1:
            on_device = tensor.to(self.device)
            dist.all_reduce(on_device, op=dist.ReduceOp.SUM)
            if on_device is not tensor:
                tensor.copy_(on_device)
        return tensor

    def sum_grads_(self, params: list[torch.nn.Parameter]) -> None:
        """Sum every parameter's gradient across processes with one flat all-reduce."""
        if self.world == 1:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for p, g in zip(params, grads, strict=True):
            n = g.numel()
            p.grad = flat[offset:offset + n].view_as(p)
            offset += n

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def resolve_device(option: str) -> torch.device:
    """``auto`` → cuda if available, else cpu; ``cuda`` without a GPU is an error."""
    if option == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda requested but no GPU is available; use --device cpu or auto")
    if option == "auto":
        option = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(option)


def setup(device_option: str) -> Context:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1); otherwise a single-process context."""
    device = resolve_device(device_option)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Context(0, 1, device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return Context(dist.get_rank(), dist.get_world_size(), device)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
