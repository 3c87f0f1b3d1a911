r"""The graph and the engine: ``Function.apply`` records, ``backward`` replays in reverse.

Every differentiable operation is a :class:`Function` subclass with two static
methods working on plain torch tensors:

* ``forward(ctx, *inputs)`` computes the result and saves what backward needs
  (``ctx.save_for_backward(...)``);
* ``backward(ctx, grad)`` receives $G = \partial L/\partial\,\mathrm{output}$ and returns
  $\partial L/\partial\,\mathrm{input}_i$ for each input (``None`` for constants).

``Function.apply`` runs ``forward`` and, when any input requires a gradient, makes
the ``ctx`` a node of the graph: it becomes the result's ``grad_fn`` and links to
the nodes of its inputs in ``ctx.next_functions`` (the input's own ``grad_fn``, or
an :class:`AccumulateGrad` node for a leaf). :func:`backward` seeds the output's gradient and
:func:`traverse` then visits the nodes in reverse topological order, each once, summing
the gradients that arrive at a node from several uses before running it.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from scratchlib.autograd.tensor import Tensor


def as_operand(value: object) -> object:
    """A numpy array as a torch tensor and a numpy scalar as a Python number; else ``value``.

    ``torch_tensor + numpy_array`` is not defined, so the operands a user may write on
    either side of a Tensor (``np.ones(2) + t``, ``np.float32(0.5) * t``) become torch's.
    """
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


class Context:
    """A node of the graph: what one ``Function`` call saved, and where its inputs came from.

    ``forward`` stores tensors with :meth:`save_for_backward` and may set any other
    attribute (shapes, flags); ``backward`` reads them back. ``next_functions[i]``
    is the node that receives the gradient of input ``i`` (``None`` where no gradient
    is needed), and ``needs_input_grad[i]`` says whether input ``i`` wants one.

    The saved tensors carry a version check, as torch's: ``save_for_backward`` notes each
    tensor's version (its count of changes in place), and ``saved_tensors`` refuses one that
    moved since, naming it and this node: a gradient from changed numbers would be wrong.
    """

    def __init__(self, function: type, next_functions: tuple, needs_input_grad: tuple):
        self.function = function
        self.next_functions = next_functions
        self.needs_input_grad = needs_input_grad
        # filled in by apply, checked against backward's results
        self.input_shapes: tuple[torch.Size | None, ...] = ()
        self.input_dtypes: tuple[torch.dtype | None, ...] = ()
        self.retained: weakref.ref[Tensor] | None = None  # an output whose .grad is kept
        self._saved: tuple = ()
        self._versions: tuple[int | None, ...] = ()
        self._released = False

    if TYPE_CHECKING:  # forward may set any attribute (shapes, flags) for backward to read

        def __getattr__(self, name: str) -> Any: ...
        def __setattr__(self, name: str, value: Any) -> None: ...

    def save_for_backward(self, *tensors: torch.Tensor | float) -> None:
        """Keep these torch tensors for ``backward`` (freed after it unless ``retain_graph``)."""
        self._saved = tensors
        try:
            self._versions = tuple(t._version if isinstance(t, torch.Tensor) else None for t in tensors)
        except RuntimeError:  # a tensor made in torch.inference_mode has no counter, and cannot change outside it
            self._versions = tuple(
                t._version if isinstance(t, torch.Tensor) and not t.is_inference() else None for t in tensors
            )

    @property
    def saved_tensors(self) -> tuple:
        if self._released:
            raise RuntimeError(
                f"trying to run backward through {self.name()} a second time, but its saved "
                "tensors were already freed after the first backward; call "
                "backward(retain_graph=True) the first time to keep them"
            )
        self.check_saved()
        return self._saved

    def check_saved(self) -> None:
        """Refuse the saved tensors if one was changed in place since ``save_for_backward``."""
        for k, (tensor, version) in enumerate(zip(self._saved, self._versions)):
            if version is not None and tensor._version != version:
                raise RuntimeError(self._changed_in_place(k, tensor, version))

    def _changed_in_place(self, k: int, tensor: torch.Tensor, version: int) -> str:
        """The error for saved tensor ``k``, changed in place since ``save_for_backward``."""
        forward = self.function.__name__
        what = f"shape {tuple(tensor.shape)}, {tensor.dtype}"
        for i, child in enumerate(self.next_functions):  # a leaf's data is found through its node
            if isinstance(child, AccumulateGrad) and child.variable.data is tensor:
                kind = "a parameter" if child.variable.is_parameter else "a leaf"
                what += f", the data of input {i} of {forward}: {kind}"
                break
        # torch's own opening words, so that a search for this error finds torch's explanations too
        return (
            "one of the variables needed for gradient computation has been modified by an inplace "
            f"operation: {self.name()}'s saved tensor {k} ({what}) is at version {tensor._version}; "
            f"expected version {version}, as when {forward}.forward saved it. An optimizer's step() "
            "or a p.data -= ... between a forward and its backward does this: call loss.backward() "
            "before optimizer.step(), and run a new forward after the step"
        )

    def release(self) -> None:
        """Free the saved tensors (backward calls this once the node has run)."""
        self._saved = self._versions = ()
        self._released = True

    def name(self) -> str:
        return f"{self.function.__name__}Backward"

    def run(self, grad: torch.Tensor) -> tuple:
        """Call the Function's backward on $G$ and check what it returns.

        A tensor that asked for ``retain_grad`` keeps $G$ as its ``.grad`` first. The backward
        must return one gradient per forward input (``None`` for a constant), each of its
        input's shape: a wrong one is named here, before it reaches another node.
        """
        if self.retained is not None:
            output = self.retained()
            if output is not None:  # its own copy, added up over backward calls, as torch's retain_grad
                output.grad = grad.clone() if output.grad is None else output.grad + grad
        grads = self.function.backward(self, grad)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(self.next_functions):
            raise RuntimeError(
                f"{self.function.__name__}.backward returned {len(grads)} gradients, "
                f"expected {len(self.next_functions)} (one per forward input; "
                "None for constants)"
            )
        for i, (child, child_grad) in enumerate(zip(self.next_functions, grads)):
            if child is None or child_grad is None:
                continue
            if child_grad.shape != self.input_shapes[i]:
                raise RuntimeError(
                    f"{self.function.__name__}.backward returned a gradient of shape "
                    f"{tuple(child_grad.shape)} for input {i}, expected "
                    f"{tuple(self.input_shapes[i])} (the shape of input {i})"
                )
            if child_grad.dtype != self.input_dtypes[i]:  # a float32 input times a float64 one
                # gets a float32 gradient, as in torch: each gradient has its input's dtype
                grads = grads[:i] + (child_grad.to(self.input_dtypes[i]),) + grads[i + 1 :]
        return grads

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class AccumulateGrad:
    r"""The node behind a leaf that requires grad: it adds what arrives to ``leaf.grad``."""

    rule = {"grad": "(what was there) + G"}  # for the backward stepper, as a Function's rule

    def __init__(self, variable: Tensor):
        self.variable = variable
        self.next_functions = ()
        self.retained = None

    def run(self, grad: torch.Tensor) -> tuple:
        variable = self.variable
        # the leaf's own copy, contiguous, as torch gives each leaf its own tensor: what arrives
        # may be a buffer that other nodes hold too (Add hands the same G to both inputs, a
        # retained .grad keeps it) or a stride-0 view (Sum's backward expands G)
        grad = grad.clone(memory_format=torch.contiguous_format)
        ### BEGIN SOLUTION 6.1: AccumulateGrad: add the incoming gradient to the leaf's .grad
        if variable.grad is None:
            variable.grad = grad
        else:
            variable.grad += grad
        ### END SOLUTION
        return ()

    def release(self) -> None:
        pass

    def check_saved(self) -> None:
        pass  # a leaf's node saves nothing

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


def _node_of(tensor: Tensor) -> Context | AccumulateGrad:
    """The node that receives ``tensor``'s gradient: its grad_fn, or its leaf accumulator."""
    if tensor.grad_fn is not None:
        return tensor.grad_fn
    accumulator = tensor._accumulator() if tensor._accumulator is not None else None
    if accumulator is None:  # one per leaf while a graph that uses it is alive
        accumulator = AccumulateGrad(tensor)
        tensor._accumulator = weakref.ref(accumulator)
    return accumulator


class Function:
    """An operation with a hand-written derivative: subclass and write ``forward`` and ``backward``.

    ``rule`` (on each subclass, beside its ``backward``) writes the local backward rule in
    plain text for the backward stepper: for each input of ``forward`` that can receive a
    gradient (by its name there), the formula of its gradient ("G" is ``grad``); ``{name}``
    shows the ``ctx`` attribute ``name`` that forward set (an exponent, the summed axes).
    """

    rule: dict = {}

    @staticmethod
    def forward(ctx: Context, *inputs: Any) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor | None, ...]:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: object) -> Tensor:
        """Run ``forward`` on the inputs' data and link the result into the graph.

        Tensor arguments are passed to ``forward`` as their ``.data``; anything else
        (numbers, axes, plain torch tensors) is passed as is (``as_operand``) and treated as a
        constant. An input that requires a gradient is linked through its node (``_node_of``);
        a result computed from such an input requires a gradient too, and its ``grad_fn`` is the
        ``ctx`` that ``forward`` filled.
        """
        with _named_errors(cls, args):
            ### BEGIN SOLUTION 6.34: Function.apply: run forward on the inputs' data and record the node
            data = [arg.data if isinstance(arg, Tensor) else as_operand(arg) for arg in args]
            needs_grad = tuple(isinstance(arg, Tensor) and arg.requires_grad for arg in args)
            next_functions = tuple(_node_of(arg) if wants else None for arg, wants in zip(args, needs_grad))
            ctx = Context(cls, next_functions, needs_grad)
            requires_grad = any(needs_grad)
            result = Tensor(cls.forward(ctx, *data), requires_grad=requires_grad, is_leaf=not requires_grad)
            if requires_grad:
                result.grad_fn = ctx
            ### END SOLUTION
        if result.grad_fn is not None:  # what Context.run checks backward's gradients against
            inputs = [arg if isinstance(arg, (Tensor, torch.Tensor)) else None for arg in args]
            result.grad_fn.input_shapes = tuple(None if arg is None else arg.shape for arg in inputs)
            result.grad_fn.input_dtypes = tuple(None if arg is None else arg.dtype for arg in inputs)
        return result


@contextmanager
def _named_errors(function: type, args: tuple) -> Iterator[None]:
    """torch's errors inside ``function``'s forward (a shape mismatch) as a ValueError naming the op and
    the inputs' shapes; anything else (the course's stubs among it) passes as it is."""
    try:
        yield
    except RuntimeError as error:
        shapes = ", ".join(
            str(tuple(arg.shape)) if isinstance(arg, (Tensor, torch.Tensor, np.ndarray)) else repr(as_operand(arg))
            for arg in args
        )
        raise ValueError(f"{function.__name__} got incompatible inputs ({shapes}): {error}") from None


def _dependencies(root: Context | AccumulateGrad) -> dict:
    """For each node reachable from ``root``: how many edges lead into it.

    A depth-first walk with an explicit stack (a chain of any length, no recursion limit).
    The stack holds the path from the root to the current node, so an edge back to a node on
    it is a cycle: ``Function.apply`` never makes one, a hand-edited graph may, and a cycle
    would leave its nodes waiting for each other forever (no gradient, no error).

    Each node's saved tensors are checked on the way (none changed in place since its
    forward), so a stale graph is refused before any leaf receives part of a gradient.
    """
    root.check_saved()
    counts: dict = {}
    path = [(root, iter(root.next_functions))]
    on_path = {root}
    while path:
        node, children = path[-1]
        for child in children:
            if child is None:
                continue
            if child in on_path:
                raise RuntimeError(_cycle([n for n, _ in path], child))
            if child in counts:
                counts[child] += 1
            else:
                counts[child] = 1
                child.check_saved()
                path.append((child, iter(child.next_functions)))
                on_path.add(child)
                break  # go deeper first; this node's other children come after
        else:  # every child seen: step back
            path.pop()
            on_path.discard(node)
    return counts


def _cycle(path: list, back_to: Context | AccumulateGrad) -> str:
    """The error for an edge from the end of ``path`` back to ``back_to``, a node on it."""
    loop = path[path.index(back_to) :] + [back_to]
    return (
        "backward: the graph has a cycle: " + " -> ".join(node.name() for node in loop) + ". "
        "Function.apply never makes one: a grad_fn or next_functions was changed by hand"
    )


def backward(tensor: Tensor, gradient: Tensor | torch.Tensor | float | None = None, retain_graph: bool = False) -> None:
    r"""Back-propagate $G = \partial L/\partial\,\mathrm{tensor}$ through the graph behind ``tensor``.

    ``gradient`` may be left out for a scalar ``tensor``: then $G = \partial L/\partial L = 1$, of the
    scalar's shape and dtype. The traversal starts at the node that receives ``tensor``'s gradient.
    """
    gradient = _checked_gradient(tensor, gradient)  # None: the scalar's own, left to you
    ### BEGIN SOLUTION 6.35: Tensor.backward: seed the output's gradient and start the traversal at its node
    if gradient is None:
        gradient = torch.ones_like(tensor.data)
    traverse(_node_of(tensor), gradient, retain_graph)
    ### END SOLUTION


def _checked_gradient(tensor: Tensor, gradient: Tensor | torch.Tensor | float | None) -> torch.Tensor | None:
    """Refuse a backward that cannot run, as torch does; the given gradient as our own torch copy, or None."""
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward() on a tensor that does not require grad: no input of the "
            "computation was created with requires_grad=True"
        )
    if gradient is not None:
        gradient = gradient.data if isinstance(gradient, Tensor) else torch.as_tensor(gradient)
        if gradient.shape != tensor.shape:
            raise RuntimeError(
                f"backward(gradient): gradient has shape {tuple(gradient.shape)}, but "
                f"the output has shape {tuple(tensor.shape)}"
            )
        # our copy: the output's retained .grad may keep it, and the caller keeps theirs
        return gradient.to(tensor.data.dtype, copy=True)
    if tensor.data.is_complex():  # torch: the implicit gradient 1 is defined for real outputs only
        raise RuntimeError(
            f"backward() without a gradient works only for a real scalar output; this one is "
            f"{tensor.dtype}: pass backward(gradient)"
        )
    if tensor.data.numel() != 1:
        raise RuntimeError(
            f"backward() without a gradient works only for a scalar output; this "
            f"output has shape {tuple(tensor.shape)}: pass backward(gradient) "
            "with dL/d(output) of that shape"
        )
    return None


def traverse(root: Context | AccumulateGrad, gradient: torch.Tensor, retain_graph: bool = False) -> None:
    r"""Run every node behind ``root`` once, in reverse topological order, ``root`` first with $G$ = ``gradient``.

    A node runs once every node that uses its output has handed it its part; the parts that reach
    a node are summed first. Each node's saved tensors are freed after it ran, unless ``retain_graph``.
    """
    ### BEGIN SOLUTION 6.2: the traversal: each node once, in reverse topological order
    dependencies = _dependencies(root)
    buffers = {root: gradient}  # node -> the sum of the gradients that reached it so far
    ready = [root]  # nodes whose every consumer has already run
    while ready:
        node = ready.pop()
        grad = buffers.pop(node, None)
        if grad is None:  # no path from the output carried a gradient here: pass nothing on
            grads = (None,) * len(node.next_functions)
        else:
            grads = node.run(grad)
        if not retain_graph:
            node.release()
        for child, child_grad in zip(node.next_functions, grads):
            if child is None:
                continue
            if child_grad is not None:
                if child in buffers:
                    buffers[child] = buffers[child] + child_grad  # a value used more than once
                else:
                    buffers[child] = child_grad
            dependencies[child] -= 1
            if dependencies[child] == 0:
                ready.append(child)
    ### END SOLUTION
