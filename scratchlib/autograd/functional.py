r"""Fused operations for the layers: one ``Function`` each, as torch fuses them.

A layer could be built from the elementary ops (``x @ W.T + b`` is three graph
nodes); one node with the whole derivative is faster and is what torch does
(``addmm``, ``batch_norm``, ``logsumexp`` + ``nll_loss``). Each is checked against
the composition of elementary ops and against torch in the tests.
"""

from __future__ import annotations

import math

import torch

from scratchlib.autograd.function import Context, Function
from scratchlib.autograd.tensor import Tensor
from scratchlib.course import validate


class LinearFunction(Function):
    r"""$Y = X W^\top + b$; shapes X (B, in), W (out, in), b (out,) -> Y (B, out).

    Backward (exercise 6.18): $dX$ (B, in), $dW$ (out, in), $db$ (out,).
    BEGIN TEACHER ONLY
    $dX = G W$, $dW = G^\top X$, $db = \sum_i G_i$ (sum over the batch).
    END TEACHER ONLY
    """

    @staticmethod
    def forward(ctx: Context, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        if bias is None:
            return x @ weight.T
        return torch.addmm(bias, x, weight.T)

    # the stepper's text of each input's gradient (empty in the student edition: your derivation fills it)
    rule = {
        # BEGIN TEACHER ONLY
        "x": "G weight",
        "weight": "G^T x",
        "bias": "column sums of G",
        # END TEACHER ONLY
    }

    @staticmethod
    def backward(
        ctx: Context, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        ### BEGIN SOLUTION 6.18: LinearFunction.backward: dX, dW, db
        x, weight = ctx.saved_tensors
        dx = grad @ weight if ctx.needs_input_grad[0] else None  # (B, in)
        dweight = grad.T @ x if ctx.needs_input_grad[1] else None  # (out, in)
        dbias = grad.sum(0) if ctx.needs_input_grad[2] else None  # (out,)
        return dx, dweight, dbias
        ### END SOLUTION


def same_dtype(where: str, x: Tensor, weight: Tensor) -> None:
    """Refuse an input whose dtype is not its layer's (torch refuses to mix them as well)."""
    if x.dtype != weight.dtype:
        raise TypeError(
            f"{where}: the input has dtype {x.dtype} but the weights have {weight.dtype}: convert "
            f"the input (Tensor(x.data.to({weight.dtype}))) or make the layer with dtype={x.dtype}"
        )


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    r"""$X W^\top + b$ as one graph node."""
    if weight.data.dim() != 2:
        raise ValueError(
            f"linear: the weight must be a matrix of shape (out_features, in_features), got shape {tuple(weight.shape)}"
        )
    if x.shape[-1:] != weight.shape[1:] or x.data.dim() != 2:
        raise ValueError(
            f"linear: input of shape {tuple(x.shape)} does not fit a weight of shape "
            f"{tuple(weight.shape)}: expected (batch, {weight.shape[1]})"
        )
    same_dtype("linear", x, weight)
    return LinearFunction.apply(x, weight, bias)


class BatchNormFunction(Function):
    r"""Batch normalization in training mode, over the batch dimension of X (B, C).

    Forward, per feature: $\mathrm{E}[x] = \frac1B\sum_i x_i$,
    $\mathrm{Var}[x] = \frac1B\sum_i (x_i-\mathrm{E}[x])^2$ (biased),
    $\hat x = (x - \mathrm{E}[x])/\sqrt{\mathrm{Var}[x]+\epsilon}$, $y = \gamma \hat x + \beta$.

    Backward (exercise 6.19): $dx$ (B, C), $d\gamma$ (C,), $d\beta$ (C,); every $x_i$ also moves the
    batch's mean and variance. Forward saved $\hat x$, $\gamma$ and $1/\sqrt{\mathrm{Var}[x]+\epsilon}$.
    BEGIN TEACHER ONLY
    With $d\hat x = G\gamma$: $dx = \frac{1}{B\sqrt{\mathrm{Var}[x]+\epsilon}}
    \big(B\,d\hat x - \sum_i d\hat x_i - \hat x \sum_i d\hat x_i \hat x_i\big)$,
    $d\gamma = \sum_i G_i \hat x_i$, $d\beta = \sum_i G_i$.
    END TEACHER ONLY

    The running statistics (plain torch tensors, outside the graph) move towards the
    batch's: $r \leftarrow (1 - m)\,r + m\,s$ with the unbiased variance
    $\frac{B}{B-1}\mathrm{Var}[x]$ for the running variance, as torch does.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        running_mean: torch.Tensor | None,
        running_var: torch.Tensor | None,
        momentum: float,
        eps: float,
    ) -> torch.Tensor:
        ### BEGIN SOLUTION 6.41: BatchNormFunction.forward: normalise with the batch's statistics, scale and shift
        var, mean = torch.var_mean(x, dim=0, unbiased=False)  # per feature; the biased variance
        inv_std = (var + eps).rsqrt()
        x_hat = (x - mean) * inv_std
        out = x_hat * weight + bias
        ### END SOLUTION
        ctx.save_for_backward(x_hat, weight, inv_std)  # what backward (6.19) reads
        if running_mean is not None and running_var is not None:
            update_running_statistics(running_mean, running_var, mean, var, x.shape[0], momentum)
        return out

    # the stepper's text of each input's gradient (empty in the student edition: your derivation fills it)
    rule = {
        # BEGIN TEACHER ONLY
        "x": "(B dxhat - sum_i dxhat_i - xhat sum_i dxhat_i xhat_i) / (B sqrt(var + eps)),  dxhat = G * weight",
        "weight": "column sums of G * xhat",
        "bias": "column sums of G",
        # END TEACHER ONLY
    }

    @staticmethod
    def backward(
        ctx: Context, grad: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, None, None, None, None]:
        ### BEGIN SOLUTION 6.19: BatchNormFunction.backward: dx, dgamma, dbeta
        x_hat, weight, inv_std = ctx.saved_tensors
        batch = grad.shape[0]
        dweight = (grad * x_hat).sum(0)
        dbias = grad.sum(0)
        dx_hat = grad * weight
        dx = (inv_std / batch) * (batch * dx_hat - dx_hat.sum(0) - x_hat * (dx_hat * x_hat).sum(0))
        return dx, dweight, dbias, None, None, None, None
        ### END SOLUTION


def update_running_statistics(
    running_mean: torch.Tensor,
    running_var: torch.Tensor,
    mean: torch.Tensor,
    var: torch.Tensor,
    batch: int,
    momentum: float,
) -> None:
    r"""Move BatchNorm1d's running statistics, in place, towards those of one training batch.

    ``mean`` and ``var`` are the batch's mean and *biased* variance of each feature over its ``batch`` rows.
    As torch does: $r \leftarrow (1 - m)\,r + m\,s$, with the *unbiased* variance $\frac{B}{B-1}\mathrm{Var}[x]$
    for the running variance. The tensors are the module's own (plain torch, outside the graph).
    """
    ### BEGIN SOLUTION 6.42: update_running_statistics: the running mean and the unbiased running variance
    running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
    running_var.mul_(1 - momentum).add_(var, alpha=momentum * batch / (batch - 1))
    ### END SOLUTION


class CrossEntropyFunction(Function):
    r"""Mean cross-entropy of logits Z (B, C) against integer targets y (B,).

    $L = -\frac1B \sum_i \log p_{i,y_i}$ with $p_i = \mathrm{softmax}(z_i)$, finite for logits of any size
    (exercise 6.40: no $e^{z}$ may overflow, not even for $z = 1000$).
    BEGIN TEACHER ONLY
    $\log p_{ij} = z_{ij} - \mathrm{lse}(z_i)$ with $\mathrm{lse}(z_i) = m_i + \log\sum_j e^{z_{ij}-m_i}$,
    $m_i = \max_j z_{ij}$ (no overflow).
    END TEACHER ONLY

    Backward (exercise 6.20): $dZ$ (B, C), and no gradient for the targets.
    BEGIN TEACHER ONLY
    $dZ = \frac{G}{B}(\mathrm{softmax}(Z) - \mathrm{onehot}(y))$.
    END TEACHER ONLY
    """

    @staticmethod
    def forward(ctx: Context, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # log p = log softmax(Z) row by row, with no e^z that overflows; the loss is the mean over the
        # batch of -log p at each row's target (cross_entropy has checked the shapes and labels)
        ### BEGIN SOLUTION 6.40: CrossEntropyFunction.forward: the stable log-softmax and the mean loss
        shifted = logits - logits.amax(dim=1, keepdim=True)  # each row's largest logit becomes 0
        log_p = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
        loss = -log_p.gather(1, target[:, None]).mean()
        ### END SOLUTION
        ctx.save_for_backward(log_p, target)  # what backward (6.20) reads
        return loss

    # the stepper's text of each input's gradient (empty in the student edition: your derivation fills it)
    rule = {
        # BEGIN TEACHER ONLY
        "logits": "(G / B) (softmax(logits) - onehot(target))",
        # END TEACHER ONLY
    }

    @staticmethod
    def backward(ctx: Context, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        ### BEGIN SOLUTION 6.20: CrossEntropyFunction.backward: dZ of the mean loss, none for the targets
        log_p, target = ctx.saved_tensors
        p = log_p.exp()  # softmax, (B, C)
        onehot = torch.eye(p.shape[1], dtype=p.dtype, device=p.device)[target]  # row y of I, (B, C)
        return grad * (p - onehot) / len(target), None
        ### END SOLUTION


def cross_entropy(logits: Tensor, target: Tensor | torch.Tensor) -> Tensor:
    """Mean cross-entropy; ``target`` holds class indices in [0, C) (a torch or scratchlib tensor)."""
    target = target.data if isinstance(target, Tensor) else torch.as_tensor(target)
    if logits.data.dim() != 2:
        raise ValueError(f"CrossEntropyLoss expects logits of shape (batch, classes), got {tuple(logits.shape)}")
    if not logits.data.is_floating_point():  # torch refuses too: its log_softmax has no integer kernel
        raise TypeError(
            f"CrossEntropyLoss expects floating-point logits, got dtype {logits.dtype}: "
            "convert them first, e.g. Tensor(z.data.float())"
        )
    batch, classes = logits.shape
    if target.shape != (batch,):
        raise ValueError(
            f"CrossEntropyLoss expects targets of shape ({batch},) for logits of shape "
            f"{tuple(logits.shape)}, got {tuple(target.shape)}"
        )
    if target.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"CrossEntropyLoss expects integer class labels, got dtype {target.dtype}")
    if batch == 0:
        raise ValueError("CrossEntropyLoss got an empty batch")
    # The label range is read back on the CPU only: on a GPU that would stall every step
    # until the device caught up; there ``gather`` stops on a bad label, as torch's loss does.
    if target.device.type == "cpu":
        extremes = torch.aminmax(target)
        low, high = int(extremes.min), int(extremes.max)
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            raise ValueError(
                f"CrossEntropyLoss: label {bad} is outside [0, {classes}) for logits with {classes} classes"
            )
    return CrossEntropyFunction.apply(logits, target.long())


def _dim(where: str, x: object, dim: object) -> int:
    """``dim`` as a non-negative int after checking it names one of ``x``'s dimensions of floats."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{where} takes a scratchlib Tensor, got {type(x).__name__}")
    if not x.data.is_floating_point():  # torch has no integer softmax either
        raise TypeError(f"{where} needs a floating-point tensor, got dtype {x.dtype}")
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{where}: dim must be an integer, got {type(dim).__name__} {dim!r}")
    ndim = max(x.ndim, 1)
    if not -ndim <= dim < ndim:
        raise ValueError(
            f"{where}: dim {dim} is out of range for a tensor of shape {tuple(x.shape)} "
            f"(allowed: {-ndim} to {ndim - 1})"
        )
    return dim % ndim


class SoftmaxFunction(Function):
    r"""$s_j = e^{x_j - m} / \sum_k e^{x_k - m}$ along ``dim``, $m = \max_k x_k$ (no overflow).

    Backward (exercise 6.53): $dx$, of $x$'s shape; forward saved its output $s$.
    BEGIN TEACHER ONLY
    The Jacobian is $\partial s_j/\partial x_i = s_j(\delta_{ij} - s_i)$, so
    $dx_i = \sum_j G_j s_j(\delta_{ij} - s_i) = s_i\,(G_i - \sum_j G_j s_j)$.
    END TEACHER ONLY
    """

    @staticmethod
    def forward(ctx: Context, x: torch.Tensor, dim: int) -> torch.Tensor:
        if x.numel() == 0:  # nothing to normalize: an empty result, as torch's (a 0-d x has one entry)
            out = x.clone()
        else:
            exps = (x - x.amax(dim, keepdim=True)).exp()  # every exponent <= 0: no overflow
            out = exps / exps.sum(dim, keepdim=True)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    # the stepper's text of each input's gradient (empty in the student edition: your derivation fills it)
    rule = {
        # BEGIN TEACHER ONLY
        "x": "Y * (G - sum_j G_j Y_j)  along dim {dim}  (Y = softmax(x), the saved output)",
        # END TEACHER ONLY
    }

    @staticmethod
    def backward(ctx: Context, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        ### BEGIN SOLUTION 6.53: SoftmaxFunction.backward: from the saved softmax
        (s,) = ctx.saved_tensors
        return s * (grad - (grad * s).sum(ctx.dim, keepdim=True)), None
        ### END SOLUTION


def softmax(x: Tensor, dim: int) -> Tensor:
    r"""Softmax along ``dim``: non-negative entries that sum to 1, computed without overflow."""
    return SoftmaxFunction.apply(x, _dim("softmax", x, dim))


class LogSoftmaxFunction(Function):
    r"""$\log s_j = x_j - \mathrm{lse}(x)$ along ``dim``, $\mathrm{lse}(x) = m + \log\sum_k e^{x_k - m}$.

    Backward (exercise 6.54): $dx$, of $x$'s shape; forward saved its output $\log s$.
    BEGIN TEACHER ONLY
    $\partial \log s_j/\partial x_i = \delta_{ij} - s_i$, so
    $dx_i = G_i - s_i \sum_j G_j$ with $s = e^{\log s}$ (the saved output).
    END TEACHER ONLY
    """

    @staticmethod
    def forward(ctx: Context, x: torch.Tensor, dim: int) -> torch.Tensor:
        if x.numel() == 0:  # nothing to normalize: an empty result, as torch's (a 0-d x has one entry)
            out = x.clone()
        else:
            shifted = x - x.amax(dim, keepdim=True)
            out = shifted - shifted.exp().sum(dim, keepdim=True).log()
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    # the stepper's text of each input's gradient (empty in the student edition: your derivation fills it)
    rule = {
        # BEGIN TEACHER ONLY
        "x": "G - softmax(x) * sum_j G_j  along dim {dim}",
        # END TEACHER ONLY
    }

    @staticmethod
    def backward(ctx: Context, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        ### BEGIN SOLUTION 6.54: LogSoftmaxFunction.backward: from the saved log-softmax
        (log_s,) = ctx.saved_tensors
        return grad - log_s.exp() * grad.sum(ctx.dim, keepdim=True), None
        ### END SOLUTION


def log_softmax(x: Tensor, dim: int) -> Tensor:
    r"""The logarithm of softmax along ``dim``, exact even where softmax underflows to 0."""
    return LogSoftmaxFunction.apply(x, _dim("log_softmax", x, dim))


class GELUFunction(Function):
    r"""$\mathrm{GELU}(x) = x\,\Phi(x)$, $\Phi(x) = \frac12\big(1 + \mathrm{erf}(x/\sqrt2)\big)$ (torch's exact form).

    $\Phi$ is the standard normal's distribution function; its density is
    $\varphi(x) = e^{-x^2/2}/\sqrt{2\pi}$. Backward (exercise 6.55): $dx$, of $x$'s shape.
    BEGIN TEACHER ONLY
    $dx = G \odot (\Phi(x) + x\,\varphi(x))$.
    END TEACHER ONLY
    """

    @staticmethod
    def forward(ctx: Context, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x * 0.5 * (1 + torch.erf(x / math.sqrt(2)))

    # the stepper's text of each input's gradient (empty in the student edition: your derivation fills it)
    rule = {
        # BEGIN TEACHER ONLY
        "x": "G * (Phi(x) + x phi(x))  (element-wise; Phi, phi: the normal's cdf and density)",
        # END TEACHER ONLY
    }

    @staticmethod
    def backward(ctx: Context, grad: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION 6.55: GELUFunction.backward: from the saved input
        (x,) = ctx.saved_tensors
        cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2)))
        density = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return grad * (cdf + x * density)
        ### END SOLUTION


def gelu(x: Tensor) -> Tensor:
    r"""$x\,\Phi(x)$ elementwise, with the exact (erf) $\Phi$, as ``torch.nn.functional.gelu``."""
    return GELUFunction.apply(x)


class DropoutFunction(Function):
    r"""Inverted dropout: $y = x \odot k / (1 - p)$ with a mask $k_i \in \{0, 1\}$, $P(k_i = 1) = 1 - p$.

    Dividing by $1 - p$ keeps $E[y] = x$, so evaluation needs no rescaling. Backward (exercise 6.56):
    $dx$, of $x$'s shape; forward saved the scaled mask $k / (1 - p)$.
    BEGIN TEACHER ONLY
    $dx = G \odot k / (1 - p)$, the same scaled mask.
    END TEACHER ONLY
    """

    @staticmethod
    def forward(ctx: Context, x: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
        keep = torch.empty_like(x).bernoulli_(1 - p, generator=generator)
        scaled_mask = keep.div_(1 - p)
        ctx.save_for_backward(scaled_mask)
        return x * scaled_mask

    # the stepper's text of each input's gradient (empty in the student edition: your derivation fills it)
    rule = {
        # BEGIN TEACHER ONLY
        "x": "G * mask / (1 - p)  (the saved scaled mask)",
        # END TEACHER ONLY
    }

    @staticmethod
    def backward(ctx: Context, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        ### BEGIN SOLUTION 6.56: DropoutFunction.backward: through the saved scaled mask
        (scaled_mask,) = ctx.saved_tensors
        return grad * scaled_mask, None, None
        ### END SOLUTION


def dropout(x: Tensor, p: float = 0.5, training: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """Zero each entry with probability ``p`` and scale the rest by 1/(1-p); ``x`` itself in eval."""
    p = validate.number("dropout", "p", p, low=0, high=1, high_open=True)
    if not isinstance(x, Tensor):
        raise TypeError(f"dropout takes a scratchlib Tensor, got {type(x).__name__}")
    if not training or p == 0:
        return x
    return DropoutFunction.apply(x, p, generator)
