"""Two exercises on plain lists, so the teacher tools' tests need no torch."""


def double(x):
    """Twice x."""
    ### BEGIN SOLUTION 3.1: double: return twice x
    result = 2 * x
    return result
    ### END SOLUTION


def relu_backward(x, grad):
    """The gradient through ReLU: grad where x > 0, else 0."""
    if len(x) != len(grad):
        raise ValueError(f"relu_backward: x has {len(x)} values, grad {len(grad)}")
    out = []
    for value, g in zip(x, grad):
        ### BEGIN SOLUTION 3.2: relu_backward: pass g where value > 0, else 0.0
        out.append(g if value > 0 else 0.0)
        ### END SOLUTION
    return out


def halve(x):
    """Half of x (no exercise here)."""
    return x / 2
