"""The process group of a `torchrun` launch, as `finetune` and `xai eval` close it.

A rank whose work is done must not simply exit: a process that ends with gloo's threads still
running can abort ("terminate called without an active exception"), and one aborted rank fails the
whole launch (`finetune` saw it about one run in six before it closed its group). So every rank
waits for the others, then closes the group, on the way out of a run that succeeded. torch is
imported only here, where a group exists."""
from __future__ import annotations


def close_process_group() -> None:
    """Under torchrun: wait for every process, then close the group (a no-op without one). Call it
    only after a run that succeeded on this rank: a rank that failed exits at once, and torchrun
    stops the others."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
