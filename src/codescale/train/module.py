"""The training step of one decoder under Lightning Fabric: micro-batches, DDP or FSDP2, compile.

Why Fabric and not the Lightning Trainer (until issue 9 this module was a LightningModule):

1. Speed. DESIGN.md measured the Trainer at 0.44x a plain compiled loop on an H200 and Fabric +
   torch.compile at plain-PyTorch speed. The Trainer's costs were host-device syncs per step (its
   progress bar's `.item()`, and with world_size > 1 `_broadcast_sigterm_tensor` + `.item()` in
   every batch), dynamo tracing Lightning's own code when the LightningModule is compiled, and the
   automatic-optimization closure machinery. With Fabric the loop is ours: nothing syncs but the
   loss read-back every `log_every` steps (`flush_losses`).
2. Correct gradient accumulation. Lightning's DDP arms the gradient all-reduce once per DDP
   forward (one training_step), so k backward passes inside one training_step all-reduced only
   the first micro-batch's gradient and left the rest local: ranks diverged. Here every
   micro-batch is its own forward through the DDP/FSDP-wrapped module, inside
   `fabric.no_backward_sync(model, enabled=not last)`: no all-reduce (DDP) / reduce-scatter
   (FSDP2) until the last micro-batch, whose backward reduces the summed gradient, overlapped
   with the backward as usual. Each micro-batch's mean loss is divided by k, so k micro-batches
   of M sequences give the update of one batch of k*M (every sequence has the same length).
3. Compile that keeps the overlap. `torch.compile` is applied to the module DDP wraps and
   Fabric re-applies it on top of the DDP wrapper (`_reapply_compile`), so dynamo's
   DDPOptimizer splits the graph at bucket boundaries and the all-reduce of one bucket overlaps
   the backward of the next. Compiling only the loss function outside DDP (as before) made one
   graph whose gradients all became ready at once, after the whole backward. Under FSDP2 each
   transformer block is compiled on its own before `fully_shard` (the torchtitan recipe), so the
   per-block all-gather/reduce-scatter hooks stay outside the graphs.
4. Sharding and its checkpoints. `--strategy fsdp` is Fabric's ModelParallelStrategy (FSDP2
   `fully_shard`, DTensor parameters) with our `parallelize_fsdp`: one FSDP unit per block plus
   the root (embedding, final norm, head). Checkpoints are DCP shards (checkpoint.py).

The data order is a function of the step (sampler.py): rank r of W takes sequences
[r*B/W, (r+1)*B/W) of global batch `step`, micro-batch i of those the i-th slice of M rows.

benchmarks/train_throughput.py measures this step against the plain loop.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from codescale.errors import CodescaleError
from codescale.model.llama import ModelConfig, Transformer
from codescale.train.hparams import HParams, lr_at
from codescale.train.sampler import MixtureSampler


class StepBatches(Dataset):
    """Item `step` = this rank's share of global batch `step` (a dict of CPU tensors)."""

    def __init__(
        self,
        sampler: MixtureSampler,
        batch_size: int,
        steps: int,
        rank: int = 0,
        world_size: int = 1,
        doc_mask: bool = False,
    ):
        if batch_size % world_size:
            raise CodescaleError(
                f"global batch {batch_size} is not divisible by the world size {world_size}"
            )
        self.sampler = sampler
        self.local = batch_size // world_size
        self.batch_size = batch_size
        self.steps = steps
        self.rank = rank
        self.doc_mask = doc_mask

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        first = step * self.batch_size + self.rank * self.local
        batch = self.sampler.sequences(first, self.local)
        out = {"tokens": torch.from_numpy(batch.tokens)}
        if self.doc_mask:
            out["doc_ids"] = torch.from_numpy(batch.doc_ids)
        return out


def grad_accum_steps(batch: int, world: int, micro: int | None) -> tuple[int, int]:
    """(micro-batch size, accumulation steps) for a global batch of `batch` sequences.

    micro=None means the whole per-rank share in one pass. Raises naming the numbers when the
    global batch does not split into world x micro x k.
    """
    if batch % world:
        raise CodescaleError(f"global batch {batch} is not divisible by the world size {world}")
    local = batch // world
    micro = micro or local
    if micro < 1 or local % micro:
        raise CodescaleError(
            f"global batch {batch} / (world size {world} x micro-batch {micro}) = "
            f"{batch / (world * micro):g} accumulation steps: not a whole number"
        )
    return micro, local // micro


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices except the input embedding (OLMo); none on norm weights.

    `model` is the Transformer, possibly with checkpoint-wrapped or sharded blocks (names are
    the Transformer's own, e.g. "embed.weight"; parameters may be DTensors).
    """
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim >= 2 and not name.startswith("embed.") else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


class LossModule(nn.Module):
    """forward(tokens, targets, doc_ids) = mean next-token loss: the module DDP/FSDP wraps.

    Loss inside forward, so that one DDP forward covers exactly one micro-batch and a compiled
    forward holds model and cross-entropy in one graph.
    """

    def __init__(self, net: Transformer):
        super().__init__()
        self.net = net

    def forward(
        self, tokens: torch.Tensor, targets: torch.Tensor, doc_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.net.loss(tokens, targets, doc_ids)


def apply_activation_checkpointing(net: Transformer) -> None:
    """Recompute each block's activations in the backward instead of storing them.

    Applied from outside the model (llama.py stays untouched): each `net.layers[i]` is replaced by
    torch's CheckpointWrapper (non-reentrant torch.utils.checkpoint), whose state-dict hooks keep
    the Transformer's key names. Stored activations per block drop to the block input.
    """
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import (
        CheckpointImpl,
        checkpoint_wrapper,
    )

    for i, block in enumerate(net.layers):
        net.layers[i] = checkpoint_wrapper(block, checkpoint_impl=CheckpointImpl.NO_REENTRANT)


def parallelize_fsdp(
    module: LossModule, mesh: Any, compile: bool, param_dtype: torch.dtype | None
) -> LossModule:
    """FSDP2: one `fully_shard` unit per transformer block, then the root (embed, norm, head).

    `mesh`: Fabric's 2-D (data_parallel, tensor_parallel) mesh with tensor_parallel = 1; we shard
    over all ranks. `param_dtype` (bf16 on GPU) makes the all-gathered weights bf16 while the
    sharded master weights, gradients' reduction and AdamW state stay fp32.
    """
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    dp_mesh = mesh["data_parallel"] if mesh.ndim > 1 else mesh
    mp = MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=torch.float32)
    layers = module.net.layers
    for i, block in enumerate(layers):
        if compile:
            block.compile()
        # the last block's parameters are needed again at once by the backward: keep them
        fully_shard(block, mesh=dp_mesh, mp_policy=mp, reshard_after_forward=i < len(layers) - 1)
    fully_shard(module, mesh=dp_mesh, mp_policy=mp)
    if any(p.is_meta for p in module.parameters()):
        # built on the meta device (setup_training): allocate this rank's shards only, then fill
        # them with the same values a single process would hold (Transformer.init_weights)
        device = (
            torch.device("cuda", torch.cuda.current_device())
            if dp_mesh.device_type == "cuda"
            else torch.device(dp_mesh.device_type)
        )
        module.to_empty(device=device)
        module.net.reset_parameters()
    return module


def full_norm(norm: torch.Tensor) -> torch.Tensor:
    """A gradient norm as a plain tensor (clip_grad_norm_ over DTensor grads returns a DTensor)."""
    return norm.full_tensor() if hasattr(norm, "full_tensor") else norm


class LossLog:
    """Per-step losses and gradient norms kept on the device, read back every `log_every` steps.

    curve: [step, tokens seen, mean loss since the previous point]; the loss is the mean over the
    global batch (averaged over ranks at read-back), so it does not depend on the world size.
    """

    def __init__(self, hp: HParams):
        self.hp = hp
        self.pending: list[torch.Tensor] = []  # [loss, grad norm] per step, on the device
        self.pending_first_step = 0
        self.curve: list[list[float]] = []
        self.window: list[float] = []
        self.last_loss: float | None = None

    def add(self, step: int, loss: torch.Tensor, norm: torch.Tensor) -> None:
        if not self.pending:
            self.pending_first_step = step
        self.pending.append(torch.stack((loss.float(), norm.float())))

    def flush(self, step: int, tokens_per_step: int, point: bool, reduce: Any) -> float | None:
        """Read back pending rows (one sync); raise on a non-finite loss or norm naming the step.

        `reduce` averages a tensor over ranks (identity on one process); every rank calls flush
        at the same steps. With `point`, close the window into a curve point and return its mean.
        """
        if self.pending:
            rows = reduce(torch.stack(self.pending)).cpu().tolist()
            first = self.pending_first_step
            self.pending = []
            for k, (loss, norm) in enumerate(rows):
                if not (math.isfinite(loss) and math.isfinite(norm)):
                    raise CodescaleError(
                        f"non-finite training loss ({loss}) or gradient norm ({norm}) at step "
                        f"{first + k + 1} (lr {lr_at(first + k, self.hp):.3g}); the run stops, "
                        "the last good checkpoint is kept"
                    )
            losses = [loss for loss, _ in rows]
            self.window.extend(losses)
            self.last_loss = losses[-1]
        if not (point and self.window):
            return None
        mean = sum(self.window) / len(self.window)
        self.curve.append([step, step * tokens_per_step, mean])
        self.window = []
        return mean

    def state(self) -> dict[str, Any]:
        return {"curve": self.curve, "window": self.window, "last_loss": self.last_loss}

    def load(self, state: dict[str, Any]) -> None:
        self.curve = state["curve"]
        self.window = state["window"]
        self.last_loss = state["last_loss"]


def train_step(
    fabric: Any,
    model: Any,
    optimizer: Any,
    batch: dict[str, torch.Tensor],
    step: int,
    hp: HParams,
    micro: int,
    accum: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step over this rank's share of global batch `step` (see module docstring).

    batch["tokens"]: [local, seq_len + 1] int64 on the device; doc_ids likewise. Returns the mean
    loss over the share and the gradient norm before clipping (device tensors; no sync).
    """
    lr = lr_at(step, hp)
    for group in optimizer.param_groups:
        group["lr"] = lr
    tokens = batch["tokens"]
    docs = batch.get("doc_ids")
    total: torch.Tensor | None = None
    for i in range(accum):
        t = tokens[i * micro : (i + 1) * micro]
        d = docs[i * micro : (i + 1) * micro, :-1] if docs is not None else None
        with fabric.no_backward_sync(model, enabled=i < accum - 1):
            loss = model(t[:, :-1], t[:, 1:], d)
            fabric.backward(loss / accum if accum > 1 else loss)
        part = loss.detach() / accum
        total = part if total is None else total + part
    # the norm also tells a step whose update was poisoned by an inf/NaN gradient although the
    # loss itself was finite; bf16/fp32 need no unscaling
    norm = torch.nn.utils.clip_grad_norm_(
        [p for g in optimizer.param_groups for p in g["params"]], hp.grad_clip, foreach=True
    )
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    assert total is not None
    return total, full_norm(norm)


def setup_training(
    fabric: Any,
    model_cfg: dict[str, Any],
    hp: HParams,
    compile: bool = False,
    activation_checkpointing: bool = False,
    sharded: bool = False,
) -> tuple[Any, Any, Transformer, nn.Module, torch.optim.Optimizer]:
    """Model and AdamW set up by Fabric exactly as `codescale train` runs them.

    Call after fabric.launch() and seeding (every rank builds the same initial weights). Returns
    (model, optimizer): the Fabric-wrapped LossModule and optimizer that train_step takes;
    (net, module, raw_optimizer): the Transformer, the LossModule (sharded in place under FSDP)
    and the torch AdamW, which checkpoints and the final weights are read from.
    """
    # Under FSDP the model is built on the meta device and materialised shard by shard after
    # fully_shard (parallelize_fsdp): a 14B model's full fp32 weights (56 GB) never exist on a rank.
    with torch.device("meta") if sharded else contextlib.nullcontext():
        net = Transformer(ModelConfig(**model_cfg))
    if activation_checkpointing:
        apply_activation_checkpointing(net)
    module: nn.Module = LossModule(net)
    if compile and not sharded:  # FSDP compiles per block (parallelize_fsdp)
        module = torch.compile(module)
    model = fabric.setup_module(module)
    raw_module = model.module
    raw_opt = torch.optim.AdamW(
        param_groups(net, hp.weight_decay),
        lr=hp.lr,
        betas=(hp.beta1, hp.beta2),
        eps=hp.eps,
        fused=fabric.device.type == "cuda",
    )
    return model, fabric.setup_optimizers(raw_opt), net, raw_module, raw_opt
