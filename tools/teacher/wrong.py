"""Plausible wrong versions of the library exercises: the slips a student makes (a missing transpose,
a forgotten 1/B, a wrong sign, ``=`` for ``+=``, a sum over the wrong axis). Each must score 0: an
exercise's own tests (those that run it alone) have to catch every one, or a wrong formula keeps its
marks. ``python -m teacher wrong`` grades them all; tests/test_teacher.py checks that each scores 0.

Each version is the body of the exercise's region as a student would write it, without the region's
indentation (``copies`` indents it).
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from teacher.edition import Course, write_edition
from teacher.markers import student as student_edition

WRONG: dict[str, list[tuple[str, str]]] = {
    # 04: the layers
    "4.1": [
        ("= for +: only the last gradient is kept", "self.grad = g"),
        ("+= in place: it writes into the first gradient handed in", "self.grad += g"),
    ],
    "4.2": [
        ("W not transposed", "self.output = self.x.output @ self.W.output + self.b.output"),
        ("the bias forgotten", "self.output = self.x.output @ self.W.output.T"),
        ("the bias subtracted", "self.output = self.x.output @ self.W.output.T - self.b.output"),
    ],
    "4.3": [
        (
            "dJ/dW not transposed (X^T G)",
            "self.x.accumulate_grad(g @ self.W.output)\n"
            "self.W.accumulate_grad(self.x.output.T @ g)\n"
            "self.b.accumulate_grad(g.sum(0))",
        ),
        (
            "dJ/db summed over the wrong axis",
            "self.x.accumulate_grad(g @ self.W.output)\n"
            "self.W.accumulate_grad(g.T @ self.x.output)\n"
            "self.b.accumulate_grad(g.sum(1))",
        ),
        (
            "dJ/db averaged: a forgotten B",
            "self.x.accumulate_grad(g @ self.W.output)\n"
            "self.W.accumulate_grad(g.T @ self.x.output)\n"
            "self.b.accumulate_grad(g.mean(0))",
        ),
        (
            "dJ/dX with W^T",
            "self.x.accumulate_grad(g @ self.W.output.T)\n"
            "self.W.accumulate_grad(g.T @ self.x.output)\n"
            "self.b.accumulate_grad(g.sum(0))",
        ),
    ],
    "4.4": [
        ("the negative part kept", "self.output = torch.clamp(self.x.output, max=0)"),
        ("the absolute value", "self.output = self.x.output.abs()"),
    ],
    "4.5": [
        ("the mask taken from the gradient", "self.x.accumulate_grad(self.grad * (self.grad > 0))"),
        ("no mask", "self.x.accumulate_grad(self.grad)"),
        ("the mask includes zero", "self.x.accumulate_grad(self.grad * (self.x.output >= 0))"),
    ],
    "4.6": [
        ("the sign of the exponent", "self.output = 1 / (1 + torch.exp(self.x.output))"),
        ("tanh for sigmoid", "self.output = torch.tanh(self.x.output)"),
    ],
    "4.7": [
        (
            "the derivative at the input, not the output",
            "x = self.x.output\nself.x.accumulate_grad(self.grad * x * (1 - x))",
        ),
        ("G forgotten", "y = self.output\nself.x.accumulate_grad(y * (1 - y))"),
    ],
    "4.8": [("sigmoid for tanh", "self.output = torch.sigmoid(self.x.output)")],
    "4.9": [
        ("1 - Y for 1 - Y^2", "y = self.output\nself.x.accumulate_grad(self.grad * (1 - y))"),
        ("the sign", "y = self.output\nself.x.accumulate_grad(self.grad * (y * y - 1))"),
    ],
    "4.10": [
        ("the factor forgotten", "self.output = self.x.output"),
        ("divided by the factor", "self.output = self.x.output / self.factor"),
        ("the factor added", "self.output = self.x.output + self.factor"),
    ],
    "4.11": [
        ("the factor forgotten", "self.x.accumulate_grad(self.grad)"),
        ("the sign", "self.x.accumulate_grad(-self.grad * self.factor)"),
        ("divided by the factor", "self.x.accumulate_grad(self.grad / self.factor)"),
    ],
    "4.12": [
        ("a - b", "self.output = self.a.output - self.b.output"),
        ("b forgotten", "self.output = self.a.output"),
    ],
    "4.13": [
        ("b gets -G", "self.a.accumulate_grad(self.grad)\nself.b.accumulate_grad(-self.grad)"),
        ("G halved between them", "self.a.accumulate_grad(0.5 * self.grad)\nself.b.accumulate_grad(0.5 * self.grad)"),
        ("b forgotten: only a gets G", "self.a.accumulate_grad(self.grad)"),
    ],
    "4.14": [
        ("no square", "self.output = self.strength * self.W.output.sum()"),
        ("the mean for the sum", "self.output = self.strength * (self.W.output**2).mean()"),
        ("the strength forgotten", "self.output = (self.W.output**2).sum()"),
        ("the norm for its square: a root taken", "self.output = self.strength * (self.W.output**2).sum().sqrt()"),
    ],
    "4.15": [
        ("the 2 forgotten", "self.W.accumulate_grad(self.strength * self.grad * self.W.output)"),
        ("G forgotten", "self.W.accumulate_grad(2 * self.strength * self.W.output)"),
        ("the sign", "self.W.accumulate_grad(-2 * self.strength * self.grad * self.W.output)"),
        (
            "the sum not broadcast back: one number for all of W",
            "self.W.accumulate_grad((2 * self.strength * self.grad * self.W.output).sum())",
        ),
    ],
    "4.16": [
        ("the sum for the mean", "self.diff = pred - target\nself.output = (self.diff**2).sum()"),
        ("the root of the mean", "self.diff = pred - target\nself.output = (self.diff**2).mean().sqrt()"),
    ],
    "4.17": [
        (
            "1/N forgotten",
            "d_pred = 2 * self.grad * self.diff\n"
            "self.pred.accumulate_grad(d_pred)\n"
            "self.target.accumulate_grad(-d_pred)",
        ),
        (
            "the 2 forgotten",
            "d_pred = self.grad * self.diff / self.diff.numel()\n"
            "self.pred.accumulate_grad(d_pred)\n"
            "self.target.accumulate_grad(-d_pred)",
        ),
        (
            "target gets +dP",
            "d_pred = 2 * self.grad * self.diff / self.diff.numel()\n"
            "self.pred.accumulate_grad(d_pred)\n"
            "self.target.accumulate_grad(d_pred)",
        ),
    ],
    "4.18": [
        (
            "the sign of the loss",
            "log_p = torch.log_softmax(logits, dim=1)\n"
            "self.classifications = log_p.exp()\n"
            "self.output = log_p.gather(1, target.unsqueeze(1)).mean()",
        ),
        (
            "the sum for the mean",
            "log_p = torch.log_softmax(logits, dim=1)\n"
            "self.classifications = log_p.exp()\n"
            "self.output = -log_p.gather(1, target.unsqueeze(1)).sum()",
        ),
        (
            "softmax over the wrong axis",
            "log_p = torch.log_softmax(logits, dim=0)\n"
            "self.classifications = log_p.exp()\n"
            "self.output = -log_p.gather(1, target.unsqueeze(1)).mean()",
        ),
        (
            "log p kept as the classifications, not p",
            "log_p = torch.log_softmax(logits, dim=1)\n"
            "self.classifications = log_p\n"
            "self.output = -log_p.gather(1, target.unsqueeze(1)).mean()",
        ),
    ],
    "4.19": [
        (
            "1/B forgotten",
            "p = self.classifications\n"
            "onehot = torch.eye(p.shape[1], dtype=p.dtype)[self.target.output]\n"
            "self.logits.accumulate_grad(self.grad * (p - onehot))",
        ),
        (
            "onehot - softmax",
            "p = self.classifications\n"
            "onehot = torch.eye(p.shape[1], dtype=p.dtype)[self.target.output]\n"
            "self.logits.accumulate_grad(self.grad / p.shape[0] * (onehot - p))",
        ),
        (
            "G forgotten",
            "p = self.classifications\n"
            "onehot = torch.eye(p.shape[1], dtype=p.dtype)[self.target.output]\n"
            "self.logits.accumulate_grad((p - onehot) / p.shape[0])",
        ),
        (
            "1/C for 1/B: the size of the wrong axis",
            "p = self.classifications\n"
            "onehot = torch.eye(p.shape[1], dtype=p.dtype)[self.target.output]\n"
            "self.logits.accumulate_grad(self.grad / p.shape[1] * (p - onehot))",
        ),
    ],
    "4.20": [
        ("the seed forgotten", "for layer in self._backward:\n    layer.backward()"),
        (
            "the tape walked forwards",
            "last.grad = torch.ones_like(last.output)\nfor layer in reversed(self._backward):\n    layer.backward()",
        ),
    ],
    "4.30": [
        ("+ step_size: a step uphill", "self.output.add_(self.grad, alpha=step_size)"),
        ("the step size forgotten", "self.output.sub_(self.grad)"),
    ],
    "4.31": [("0 for None: a number where a gradient or None is held", "self.grad = 0")],
    # 06: the engine
    "6.1": [
        ("= for +=", "variable.grad = grad"),
        ("only the first gradient kept", "if variable.grad is None:\n    variable.grad = grad"),
    ],
    "6.2": [
        (
            "a node run for each use, before its gradient is complete",
            "ready = [(root, gradient)]\n"
            "while ready:\n"
            "    node, grad = ready.pop()\n"
            "    grads = node.run(grad)\n"
            "    if not retain_graph:\n"
            "        node.release()\n"
            "    for child, child_grad in zip(node.next_functions, grads):\n"
            "        if child is not None and child_grad is not None:\n"
            "            ready.append((child, child_grad))",
        ),
    ],
    "6.3": [
        (
            "only the leading dimensions summed",
            "extra = grad.dim() - len(shape)\n"
            "dims = list(range(extra))\n"
            "if dims:\n"
            "    grad = grad.sum(dim=dims, keepdim=True)\n"
            "return grad.reshape(shape)",
        ),
        (
            "the mean for the sum",
            "extra = grad.dim() - len(shape)\n"
            "stretched = [extra + i for i, size in enumerate(shape) if size == 1 and grad.shape[extra + i] != 1]\n"
            "dims = list(range(extra)) + stretched\n"
            "if dims:\n"
            "    grad = grad.mean(dim=dims, keepdim=True)\n"
            "return grad.reshape(shape)",
        ),
    ],
    "6.4": [
        (
            "b gets -G",
            "shape_a, shape_b = ctx.shapes\n"
            "da = sum_to_shape(grad, shape_a) if ctx.needs_input_grad[0] else None\n"
            "db = sum_to_shape(-grad, shape_b) if ctx.needs_input_grad[1] else None\n"
            "return da, db",
        ),
        (
            "a gradient for a constant",
            "shape_a, shape_b = ctx.shapes\nreturn sum_to_shape(grad, shape_a), sum_to_shape(grad, shape_b)",
        ),
    ],
    "6.5": [
        (
            "b not negated",
            "shape_a, shape_b = ctx.shapes\n"
            "da = sum_to_shape(grad, shape_a) if ctx.needs_input_grad[0] else None\n"
            "db = sum_to_shape(grad, shape_b) if ctx.needs_input_grad[1] else None\n"
            "return da, db",
        ),
    ],
    "6.6": [
        (
            "each input times itself",
            "a, b = ctx.saved_tensors\n"
            "da = sum_to_shape(grad * a, _shape(a)) if ctx.needs_input_grad[0] else None\n"
            "db = sum_to_shape(grad * b, _shape(b)) if ctx.needs_input_grad[1] else None\n"
            "return da, db",
        ),
    ],
    "6.7": [
        (
            "the sign of db",
            "a, b = ctx.saved_tensors\n"
            "da = sum_to_shape(grad / b, _shape(a)) if ctx.needs_input_grad[0] else None\n"
            "db = sum_to_shape(grad * a / (b * b), _shape(b)) if ctx.needs_input_grad[1] else None\n"
            "return da, db",
        ),
        (
            "b not squared",
            "a, b = ctx.saved_tensors\n"
            "da = sum_to_shape(grad / b, _shape(a)) if ctx.needs_input_grad[0] else None\n"
            "db = sum_to_shape(-grad * a / b, _shape(b)) if ctx.needs_input_grad[1] else None\n"
            "return da, db",
        ),
    ],
    "6.8": [("not negated", "return grad")],
    "6.9": [
        ("the exponent not lowered", "(x,) = ctx.saved_tensors\np = ctx.exponent\nreturn grad * (p * x**p), None"),
        ("the factor p forgotten", "(x,) = ctx.saved_tensors\np = ctx.exponent\nreturn grad * x ** (p - 1), None"),
    ],
    "6.10": [
        (
            "no transposes",
            "a, b = ctx.saved_tensors\n"
            "da = sum_to_shape(grad @ b, a.shape) if ctx.needs_input_grad[0] else None\n"
            "db = sum_to_shape(a @ grad, b.shape) if ctx.needs_input_grad[1] else None\n"
            "return da, db",
        ),
        (
            "the factors swapped",
            "a, b = ctx.saved_tensors\n"
            "da = sum_to_shape(b.mT @ grad.mT, a.shape) if ctx.needs_input_grad[0] else None\n"
            "db = sum_to_shape(grad.mT @ a, b.shape) if ctx.needs_input_grad[1] else None\n"
            "return da, db",
        ),
    ],
    "6.11": [("not transposed back", "return grad")],
    "6.12": [("the output's shape kept", "return grad, None")],
    "6.13": [
        ("the summed axes not put back", "return grad.expand(ctx.input_shape), None, None"),
        (
            "divided by the count (a mean)",
            "if not ctx.keepdims:\n"
            "    for a in ctx.axes:\n"
            "        grad = grad.unsqueeze(a)\n"
            "return (grad / 2).expand(ctx.input_shape), None, None",
        ),
    ],
    "6.14": [("G times x", "(x,) = ctx.saved_tensors\nreturn grad * x")],
    "6.15": [("G forgotten", "(out,) = ctx.saved_tensors\nreturn out")],
    "6.16": [
        ("the mask includes zero", "(out,) = ctx.saved_tensors\nreturn grad * (out >= 0)"),
        ("no mask", "return grad"),
    ],
    "6.17": [
        (
            "exp(lse - x)",
            "x, out = ctx.saved_tensors\n"
            "if not ctx.keepdims:\n"
            "    grad = grad.reshape(out.shape)\n"
            "return grad * (out - x).exp(), None, None",
        ),
    ],
    "6.18": [
        (
            "dW not transposed",
            "x, weight = ctx.saved_tensors\n"
            "dx = grad @ weight if ctx.needs_input_grad[0] else None\n"
            "dweight = x.T @ grad if ctx.needs_input_grad[1] else None\n"
            "dbias = grad.sum(0) if ctx.needs_input_grad[2] else None\n"
            "return dx, dweight, dbias",
        ),
        (
            "db averaged: a forgotten B",
            "x, weight = ctx.saved_tensors\n"
            "dx = grad @ weight if ctx.needs_input_grad[0] else None\n"
            "dweight = grad.T @ x if ctx.needs_input_grad[1] else None\n"
            "dbias = grad.mean(0) if ctx.needs_input_grad[2] else None\n"
            "return dx, dweight, dbias",
        ),
    ],
    "6.19": [
        (
            "dx without the batch terms",
            "x_hat, weight, inv_std = ctx.saved_tensors\n"
            "dweight = (grad * x_hat).sum(0)\n"
            "dbias = grad.sum(0)\n"
            "return grad * weight * inv_std, dweight, dbias, None, None, None, None",
        ),
        (
            "dbeta averaged",
            "x_hat, weight, inv_std = ctx.saved_tensors\n"
            "batch = grad.shape[0]\n"
            "dweight = (grad * x_hat).sum(0)\n"
            "dbias = grad.mean(0)\n"
            "dx_hat = grad * weight\n"
            "dx = (inv_std / batch) * (batch * dx_hat - dx_hat.sum(0) - x_hat * (dx_hat * x_hat).sum(0))\n"
            "return dx, dweight, dbias, None, None, None, None",
        ),
    ],
    "6.20": [
        (
            "1/B forgotten",
            "log_p, target = ctx.saved_tensors\n"
            "p = log_p.exp()\n"
            "onehot = torch.eye(p.shape[1], dtype=p.dtype)[target]\n"
            "return grad * (p - onehot), None",
        ),
        (
            "log p for p",
            "log_p, target = ctx.saved_tensors\n"
            "onehot = torch.eye(log_p.shape[1], dtype=log_p.dtype)[target]\n"
            "return grad * (log_p - onehot) / len(target), None",
        ),
    ],
    "6.28": [
        ("the operands swapped: b - a", "return b - a"),
        ("the sign lost: a + b", "return a + b"),
    ],
    "6.29": [
        ("the matrix product for the elementwise one", "return a @ b.T"),
        ("a sum for the product", "return a + b"),
    ],
    "6.30": [
        ("the operands swapped: b / a", "return b / a"),
        ("a product for the quotient", "return a * b"),
    ],
    "6.31": [
        ("the operands swapped", "return _ops.Sub.apply(other, self)"),
        ("the wrong Function: Add", "return _ops.Add.apply(self, other)"),
    ],
    "6.32": [
        ("the arithmetic on the data, outside the graph", "return Tensor(self.data * getattr(other, 'data', other))"),
        ("the wrong Function: Add", "return _ops.Add.apply(self, other)"),
    ],
    "6.33": [
        ("the operands swapped", "return _ops.Div.apply(other, self)"),
        ("the wrong Function: Mul", "return _ops.Mul.apply(self, other)"),
    ],
    "6.34": [
        (
            "forward given the Tensors, not their data",
            "needs_grad = tuple(isinstance(arg, Tensor) and arg.requires_grad for arg in args)\n"
            "next_functions = tuple(_node_of(arg) if wants else None for arg, wants in zip(args, needs_grad))\n"
            "ctx = Context(cls, next_functions, needs_grad)\n"
            "requires_grad = any(needs_grad)\n"
            "result = Tensor(cls.forward(ctx, *args), requires_grad=requires_grad, is_leaf=not requires_grad)\n"
            "if requires_grad:\n"
            "    result.grad_fn = ctx",
        ),
        (
            "every Tensor input linked, constants too",
            "data = [arg.data if isinstance(arg, Tensor) else as_operand(arg) for arg in args]\n"
            "needs_grad = tuple(isinstance(arg, Tensor) for arg in args)\n"
            "next_functions = tuple(_node_of(arg) if wants else None for arg, wants in zip(args, needs_grad))\n"
            "ctx = Context(cls, next_functions, needs_grad)\n"
            "requires_grad = any(needs_grad)\n"
            "result = Tensor(cls.forward(ctx, *data), requires_grad=requires_grad, is_leaf=not requires_grad)\n"
            "if requires_grad:\n"
            "    result.grad_fn = ctx",
        ),
        (
            "the node never attached: no grad_fn",
            "data = [arg.data if isinstance(arg, Tensor) else as_operand(arg) for arg in args]\n"
            "needs_grad = tuple(isinstance(arg, Tensor) and arg.requires_grad for arg in args)\n"
            "next_functions = tuple(_node_of(arg) if wants else None for arg, wants in zip(args, needs_grad))\n"
            "ctx = Context(cls, next_functions, needs_grad)\n"
            "requires_grad = any(needs_grad)\n"
            "result = Tensor(cls.forward(ctx, *data), requires_grad=requires_grad, is_leaf=not requires_grad)",
        ),
    ],
    "6.35": [
        (
            "zeros for the seed",
            "if gradient is None:\n"
            "    gradient = torch.zeros_like(tensor.data)\n"
            "traverse(_node_of(tensor), gradient, retain_graph)",
        ),
        (
            "a float32 1 for every seed",
            "if gradient is None:\n"
            "    gradient = torch.tensor(1.0)\n"
            "traverse(_node_of(tensor), gradient, retain_graph)",
        ),
        (
            "started at grad_fn: a leaf has none",
            "if gradient is None:\n"
            "    gradient = torch.ones_like(tensor.data)\n"
            "traverse(tensor.grad_fn, gradient, retain_graph)",
        ),
        (
            "retain_graph dropped",
            "if gradient is None:\n    gradient = torch.ones_like(tensor.data)\ntraverse(_node_of(tensor), gradient)",
        ),
    ],
    "6.36": [
        ("the negative part kept", "out = x.clamp(max=0)"),
        ("the absolute value", "out = x.abs()"),
    ],
    "6.37": [
        ("the arithmetic on the data, outside the graph", "return Tensor(x.data.relu())"),
        ("the input passed through", "return x"),
    ],
    "6.38": [
        ("the modules in reverse order", "for module in reversed(self.layers):\n    x = module(x)\nreturn x"),
        (
            "each module on the input, the last output kept",
            "out = x\nfor module in self.layers:\n    out = module(x)\nreturn out",
        ),
    ],
    "6.39": [
        ("the bias left out", "return F.LinearFunction.apply(x, self.weight)"),
        ("W and X swapped", "return F.LinearFunction.apply(self.weight, x, self.bias)"),
    ],
    "6.40": [
        (
            "no maximum subtracted: e^z overflows for large logits",
            "log_p = logits - logits.exp().sum(dim=1, keepdim=True).log()\n"
            "loss = -log_p.gather(1, target[:, None]).mean()",
        ),
        (
            "the log-sum-exp over the batch axis",
            "shifted = logits - logits.amax(dim=0, keepdim=True)\n"
            "log_p = shifted - shifted.exp().sum(dim=0, keepdim=True).log()\n"
            "loss = -log_p.gather(1, target[:, None]).mean()",
        ),
        (
            "a sum over the batch instead of a mean",
            "shifted = logits - logits.amax(dim=1, keepdim=True)\n"
            "log_p = shifted - shifted.exp().sum(dim=1, keepdim=True).log()\n"
            "loss = -log_p.gather(1, target[:, None]).sum()",
        ),
        (
            "the mean of -log p over every class, not only the target's",
            "shifted = logits - logits.amax(dim=1, keepdim=True)\n"
            "log_p = shifted - shifted.exp().sum(dim=1, keepdim=True).log()\n"
            "loss = -log_p.mean()",
        ),
    ],
    "6.41": [
        (
            "the unbiased variance used to normalise",
            "var, mean = torch.var_mean(x, dim=0, unbiased=True)\n"
            "inv_std = (var + eps).rsqrt()\n"
            "x_hat = (x - mean) * inv_std\n"
            "out = x_hat * weight + bias",
        ),
        (
            "eps added to the standard deviation, not the variance",
            "var, mean = torch.var_mean(x, dim=0, unbiased=False)\n"
            "inv_std = 1 / (var.sqrt() + eps)\n"
            "x_hat = (x - mean) * inv_std\n"
            "out = x_hat * weight + bias",
        ),
        (
            "gamma and beta swapped",
            "var, mean = torch.var_mean(x, dim=0, unbiased=False)\n"
            "inv_std = (var + eps).rsqrt()\n"
            "x_hat = (x - mean) * inv_std\n"
            "out = x_hat * bias + weight",
        ),
        (
            "the statistics over the features (dimension 1), not the batch",
            "var, mean = torch.var_mean(x, dim=1, unbiased=False, keepdim=True)\n"
            "inv_std = (var + eps).rsqrt()\n"
            "x_hat = (x - mean) * inv_std\n"
            "out = x_hat * weight + bias",
        ),
    ],
    "6.42": [
        (
            "the biased variance in the running variance",
            "running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)\n"
            "running_var.mul_(1 - momentum).add_(var, alpha=momentum)",
        ),
        (
            "momentum the wrong way round (the old value weighted by it)",
            "running_mean.mul_(momentum).add_(mean, alpha=1 - momentum)\n"
            "running_var.mul_(momentum).add_(var * batch / (batch - 1), alpha=1 - momentum)",
        ),
        (
            "the names rebound, the module's tensors left as they were",
            "running_mean = (1 - momentum) * running_mean + momentum * mean\n"
            "running_var = (1 - momentum) * running_var + momentum * var * batch / (batch - 1)",
        ),
        (
            "the unbiased factor (B - 1) / B upside down",
            "running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)\n"
            "running_var.mul_(1 - momentum).add_(var, alpha=momentum * (batch - 1) / batch)",
        ),
    ],
    "6.43": [
        (
            "the batch's statistics in eval mode",
            "var, mean = torch.var_mean(x, dim=0, unbiased=False)\n"
            "return (x - mean) * (var + self.eps).rsqrt() * self.weight + self.bias",
        ),
        (
            "the running variance used as a standard deviation",
            "return (x - self.running_mean) / (self.running_var + self.eps) * self.weight + self.bias",
        ),
        (
            "eps forgotten",
            "return (x - self.running_mean) * self.running_var.rsqrt() * self.weight + self.bias",
        ),
    ],
    "6.44": [
        (
            "left in eval mode after validating",
            "model.eval()\n"
            "with torch.no_grad():\n"
            "    scores = model(wrap(x))\n"
            'scores = getattr(scores, "data", scores)\n'
            "return (scores.argmax(dim=1) == y).double().mean().item()",
        ),
        (
            "never put in eval mode (BatchNorm1d on the batch's statistics)",
            "with torch.no_grad():\n"
            "    scores = model(wrap(x))\n"
            "model.train()\n"
            'scores = getattr(scores, "data", scores)\n'
            "return (scores.argmax(dim=1) == y).double().mean().item()",
        ),
        (
            "the number of right answers, not their share",
            "model.eval()\n"
            "with torch.no_grad():\n"
            "    scores = model(wrap(x))\n"
            "model.train()\n"
            'scores = getattr(scores, "data", scores)\n'
            "return int((scores.argmax(dim=1) == y).sum())",
        ),
        (
            "the largest score over the batch axis",
            "model.eval()\n"
            "with torch.no_grad():\n"
            "    scores = model(wrap(x))\n"
            "model.train()\n"
            'scores = getattr(scores, "data", scores)\n'
            "return (scores.argmax(dim=0) == y).double().mean().item()",
        ),
        (
            "a graph built for the twin (no torch.no_grad)",
            "model.eval()\n"
            "scores = model(wrap(x))\n"
            "model.train()\n"
            'scores = getattr(scores, "data", scores)\n'
            "return (scores.argmax(dim=1) == y).double().mean().item()",
        ),
    ],
    "6.45": [
        (
            "never shuffled: the rows in the same order every epoch",
            "steps, accuracies, losses = [0], [nn.validation_accuracy(model, x_val, y_val, wrap)], []\n"
            "for _epoch in range(epochs):\n"
            "    model.train()\n"
            "    for start in range(0, len(x_train), batch_size):\n"
            "        optimizer.zero_grad()\n"
            "        rows = slice(start, start + batch_size)\n"
            "        loss = criterion(model(wrap(x_train[rows])), y_train[rows])\n"
            "        loss.backward()\n"
            "        optimizer.step()\n"
            "        losses.append(loss.item())\n"
            "        if len(losses) % validate_every == 0:\n"
            "            steps.append(len(losses))\n"
            "            accuracies.append(nn.validation_accuracy(model, x_val, y_val, wrap))\n"
            "return steps, accuracies, losses",
        ),
        (
            "shuffled once, before the first epoch: every epoch in the same order",
            "generator = torch.Generator().manual_seed(seed)\n"
            "steps, accuracies, losses = [0], [nn.validation_accuracy(model, x_val, y_val, wrap)], []\n"
            "order = torch.randperm(len(x_train), generator=generator)\n"
            "for _epoch in range(epochs):\n"
            "    model.train()\n"
            "    for start in range(0, len(order), batch_size):\n"
            "        rows = order[start : start + batch_size]\n"
            "        optimizer.zero_grad()\n"
            "        loss = criterion(model(wrap(x_train[rows])), y_train[rows])\n"
            "        loss.backward()\n"
            "        optimizer.step()\n"
            "        losses.append(loss.item())\n"
            "        if len(losses) % validate_every == 0:\n"
            "            steps.append(len(losses))\n"
            "            accuracies.append(nn.validation_accuracy(model, x_val, y_val, wrap))\n"
            "return steps, accuracies, losses",
        ),
        (
            "validated once per epoch, not every validate_every steps",
            "generator = torch.Generator().manual_seed(seed)\n"
            "steps, accuracies, losses = [0], [nn.validation_accuracy(model, x_val, y_val, wrap)], []\n"
            "for _epoch in range(epochs):\n"
            "    model.train()\n"
            "    order = torch.randperm(len(x_train), generator=generator)\n"
            "    for start in range(0, len(order), batch_size):\n"
            "        rows = order[start : start + batch_size]\n"
            "        optimizer.zero_grad()\n"
            "        loss = criterion(model(wrap(x_train[rows])), y_train[rows])\n"
            "        loss.backward()\n"
            "        optimizer.step()\n"
            "        losses.append(loss.item())\n"
            "    steps.append(len(losses))\n"
            "    accuracies.append(nn.validation_accuracy(model, x_val, y_val, wrap))\n"
            "return steps, accuracies, losses",
        ),
        (
            "zero_grad forgotten: each step's gradient is added to all the earlier ones",
            "generator = torch.Generator().manual_seed(seed)\n"
            "steps, accuracies, losses = [0], [nn.validation_accuracy(model, x_val, y_val, wrap)], []\n"
            "for _epoch in range(epochs):\n"
            "    model.train()\n"
            "    order = torch.randperm(len(x_train), generator=generator)\n"
            "    for start in range(0, len(order), batch_size):\n"
            "        rows = order[start : start + batch_size]\n"
            "        loss = criterion(model(wrap(x_train[rows])), y_train[rows])\n"
            "        loss.backward()\n"
            "        optimizer.step()\n"
            "        losses.append(loss.item())\n"
            "        if len(losses) % validate_every == 0:\n"
            "            steps.append(len(losses))\n"
            "            accuracies.append(nn.validation_accuracy(model, x_val, y_val, wrap))\n"
            "return steps, accuracies, losses",
        ),
        (
            "step before backward: each update uses the last batch's gradient",
            "generator = torch.Generator().manual_seed(seed)\n"
            "steps, accuracies, losses = [0], [nn.validation_accuracy(model, x_val, y_val, wrap)], []\n"
            "for _epoch in range(epochs):\n"
            "    model.train()\n"
            "    order = torch.randperm(len(x_train), generator=generator)\n"
            "    for start in range(0, len(order), batch_size):\n"
            "        rows = order[start : start + batch_size]\n"
            "        optimizer.zero_grad()\n"
            "        loss = criterion(model(wrap(x_train[rows])), y_train[rows])\n"
            "        optimizer.step()\n"
            "        loss.backward()\n"
            "        losses.append(loss.item())\n"
            "        if len(losses) % validate_every == 0:\n"
            "            steps.append(len(losses))\n"
            "            accuracies.append(nn.validation_accuracy(model, x_val, y_val, wrap))\n"
            "return steps, accuracies, losses",
        ),
        (
            "the inputs gradient-enabled (and wrap ignored)",
            "generator = torch.Generator().manual_seed(seed)\n"
            "steps, accuracies, losses = [0], [nn.validation_accuracy(model, x_val, y_val, wrap)], []\n"
            "for _epoch in range(epochs):\n"
            "    model.train()\n"
            "    order = torch.randperm(len(x_train), generator=generator)\n"
            "    for start in range(0, len(order), batch_size):\n"
            "        rows = order[start : start + batch_size]\n"
            "        optimizer.zero_grad()\n"
            "        loss = criterion(model(Tensor(x_train[rows], requires_grad=True)), y_train[rows])\n"
            "        loss.backward()\n"
            "        optimizer.step()\n"
            "        losses.append(loss.item())\n"
            "        if len(losses) % validate_every == 0:\n"
            "            steps.append(len(losses))\n"
            "            accuracies.append(nn.validation_accuracy(model, x_val, y_val, wrap))\n"
            "return steps, accuracies, losses",
        ),
    ],
    "6.46": [
        (
            "momentum forgotten",
            "criterion = nn.CrossEntropyLoss()\n"
            "model = nn.Sequential(nn.Linear(784, 20), nn.BatchNorm1d(20), nn.ReLU(), nn.Linear(20, 10))\n"
            "optimizer = optim.SGD(model.parameters(), lr=0.1)\n"
            "return model, train(model, optimizer, criterion, x_train, y_train, x_val, y_val, "
            "epochs=epochs, seed=seed)",
        ),
        (
            "BatchNorm1d after the ReLU",
            "criterion = nn.CrossEntropyLoss()\n"
            "model = nn.Sequential(nn.Linear(784, 20), nn.ReLU(), nn.BatchNorm1d(20), nn.Linear(20, 10))\n"
            "optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)\n"
            "return model, train(model, optimizer, criterion, x_train, y_train, x_val, y_val, "
            "epochs=epochs, seed=seed)",
        ),
        (
            "no BatchNorm1d",
            "criterion = nn.CrossEntropyLoss()\n"
            "model = nn.Sequential(nn.Linear(784, 20), nn.ReLU(), nn.Linear(20, 10))\n"
            "optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)\n"
            "return model, train(model, optimizer, criterion, x_train, y_train, x_val, y_val, "
            "epochs=epochs, seed=seed)",
        ),
        (
            "the learning rate 0.01",
            "criterion = nn.CrossEntropyLoss()\n"
            "model = nn.Sequential(nn.Linear(784, 20), nn.BatchNorm1d(20), nn.ReLU(), nn.Linear(20, 10))\n"
            "optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)\n"
            "return model, train(model, optimizer, criterion, x_train, y_train, x_val, y_val, "
            "epochs=epochs, seed=seed)",
        ),
        (
            "epochs and seed not handed on (train's defaults)",
            "criterion = nn.CrossEntropyLoss()\n"
            "model = nn.Sequential(nn.Linear(784, 20), nn.BatchNorm1d(20), nn.ReLU(), nn.Linear(20, 10))\n"
            "optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)\n"
            "return model, train(model, optimizer, criterion, x_train, y_train, x_val, y_val)",
        ),
        (
            "the curve returned without the model",
            "criterion = nn.CrossEntropyLoss()\n"
            "model = nn.Sequential(nn.Linear(784, 20), nn.BatchNorm1d(20), nn.ReLU(), nn.Linear(20, 10))\n"
            "optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)\n"
            "return train(model, optimizer, criterion, x_train, y_train, x_val, y_val, epochs=epochs, seed=seed)",
        ),
    ],
    "6.21": [
        ("momentum forgotten", "p.data.add_(p.grad, alpha=-self.lr)"),
        (
            "v = g: the velocity never kept",
            "grad = p.grad\n"
            "if self.momentum:\n"
            "    v = self.velocity[i] = grad.clone()\n"
            "    grad = v\n"
            "p.data.add_(grad, alpha=-self.lr)",
        ),
        (
            "+ lr: a step uphill",
            "grad = p.grad\n"
            "if self.momentum:\n"
            "    v = self.velocity[i]\n"
            "    if v is None:\n"
            "        v = self.velocity[i] = grad.clone()\n"
            "    else:\n"
            "        v.mul_(self.momentum).add_(grad)\n"
            "    grad = v\n"
            "p.data.add_(grad, alpha=self.lr)",
        ),
    ],
}

# Correct versions written another way, for grading a student's own test (tests/test_my_layers.py): a
# test must pass on each, as on the course's solution, so a test that reads the layer's code instead
# of checking what it computes scores 0. Each computes the same numbers as the solution, bit for bit
# (the same operations in the same order, spelled otherwise), so a test with exact numbers passes them.
ALTERNATIVE: dict[str, list[tuple[str, str]]] = {
    "4.1": [("the sum written the other way round", "self.grad = g + self.grad")],
    "4.2": [("matmul and t()", "self.output = self.x.output.matmul(self.W.output.t()) + self.b.output")],
    "4.3": [
        (
            "matmul, t() and sum(dim=0), without the needs_grad shortcut",
            "self.x.accumulate_grad(g.matmul(self.W.output))\n"
            "self.W.accumulate_grad(g.t().matmul(self.x.output))\n"
            "self.b.accumulate_grad(g.sum(dim=0))",
        )
    ],
    "4.4": [("clamp at 0", "self.output = self.x.output.clamp(min=0)")],
    "4.5": [
        (
            "torch.where on the output",
            "self.x.accumulate_grad(torch.where(self.output > 0, self.grad, torch.zeros_like(self.grad)))",
        )
    ],
    "4.10": [("the factor first", "self.output = self.factor * self.x.output")],
    "4.11": [("the factor first, G through a name", "g = self.grad\nself.x.accumulate_grad(self.factor * g)")],
    "4.12": [("b + a", "self.output = self.b.output + self.a.output")],
    "4.13": [("b first, in a loop", "for x in (self.b, self.a):\n    x.accumulate_grad(self.grad)")],
    "4.14": [("torch.sum of a product", "self.output = self.strength * torch.sum(self.W.output * self.W.output)")],
    "4.15": [
        (
            "the coefficient first, the product the other way round",
            "coefficient = 2 * self.strength * self.grad\nself.W.accumulate_grad(self.W.output * coefficient)",
        )
    ],
    "4.16": [("the square as a product", "self.diff = pred - target\nself.output = (self.diff * self.diff).mean()")],
    "4.17": [
        (
            "div and neg",
            "d_pred = (2 * self.grad * self.diff).div(self.diff.numel())\n"
            "self.pred.accumulate_grad(d_pred)\n"
            "self.target.accumulate_grad(d_pred.neg())",
        )
    ],
    "4.18": [
        (
            "log_softmax as a method, exp as a function, the labels picked by index",
            "log_p = logits.log_softmax(dim=-1)\n"
            "self.classifications = torch.exp(log_p)\n"
            "self.output = -log_p[torch.arange(len(target)), target].mean()",
        )
    ],
    "4.19": [
        (
            "one-hot by scatter_, B as len(p)",
            "p = self.classifications\n"
            "onehot = torch.zeros_like(p).scatter_(1, self.target.output.unsqueeze(1), 1.0)\n"
            "self.logits.accumulate_grad(self.grad / len(p) * (p - onehot))",
        )
    ],
    "4.30": [("sub_ with alpha", "self.output.sub_(self.grad, alpha=step_size)")],
}


def copies(course: Course, out: Path) -> list[tuple[Path, dict[str, str]]]:
    """Copies of the student edition under out, each holding one wrong version of every exercise that has
    one left (copy n, the n-th): the copy and {exercise: which wrong version it holds}."""
    rounds = max(len(versions) for versions in WRONG.values())
    made = []
    for n in range(rounds):
        folder = out / f"wrong-{n + 1}"
        if folder.exists():
            shutil.rmtree(folder)
        write_edition(course, folder, "student")
        holds: dict[str, str] = {}
        for path, regions in course.sources.items():
            chosen = [r for r in regions if len(WRONG.get(r.id, [])) > n]
            if not chosen:
                continue
            text, stubs = student_edition((course.root / path).read_text(encoding="utf-8"), regions)
            lines = text.splitlines(keepends=True)
            for line, region in sorted(stubs.items(), reverse=True):
                if region in chosen:
                    what, code = WRONG[region.id][n]
                    lines[line : line + 1] = [textwrap.indent(code, region.indent) + "\n"]
                    holds[region.id] = what
            (folder / path).write_text("".join(lines), encoding="utf-8")
        made.append((folder, holds))
    return made
