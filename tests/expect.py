"""expect(actual, expected): a test's check of a value, which the course's grader also reads as data.

A test of an exercise's own values asserts them with ``expect`` instead of ``assert a == b``:

    expect(layer.output.tolist(), [[-0.5, 9.0], [1.5, -14.0]])      # exact, as ==
    expect(x.grad, dx, atol=1e-10)                                  # |actual - expected| <= atol
    expect(p.data, q, atol=1e-8, dtype=True)                        # also the same dtype

The check is the one the assertion made (an AssertionError naming the entries that differ). Where
the grader runs a test (it names a file in SCRATCHLIB_VALUES), each checked value is also written
there, before it is compared, as plain JSON: numbers, shapes, dtypes, never a pickle. The grader
compares the values a student's code produced with those the course's solution produces for the same
test, outside the student's process and with the test's tolerances: a test scores when its values
match, whatever the test process says about itself.

``encode`` (a value as JSON data) and ``differ`` (how two encoded values differ) are used on both
sides: here, and by the grader on the recorded data. Only the standard library is imported here;
torch and numpy values are recognised by their methods.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

VALUES = "SCRATCHLIB_VALUES"  # the file the grader reads (set only in the grader's sandbox)
MOST = 100_000  # numbers kept per value; a larger one is recorded by its shape and a summary
SHOWN = 3  # differing entries spelled out in a message


def _number(x: Any) -> Any:
    """A JSON number (bool and int kept as they are), non-finite floats as the strings "nan", "inf", "-inf"."""
    if isinstance(x, bool) or isinstance(x, int):
        return x
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _array(values: list, shape: list[int], dtype: str = "") -> dict:
    flat: list = []
    todo = [values]
    while todo:  # flatten, row-major
        item = todo.pop()
        if isinstance(item, list):
            todo.extend(reversed(item))
        else:
            flat.append(_number(item))
    out: dict[str, Any] = {"kind": "array", "shape": shape}
    if dtype:
        out["dtype"] = dtype
    if len(flat) > MOST:
        numeric = [float(v) for v in flat if not isinstance(v, str)]
        out["summary"] = [_number(sum(numeric)), _number(max(numeric, default=0.0)), _number(min(numeric, default=0.0))]
    else:
        out["values"] = flat
    return out


def _shape(value: Any) -> list[int] | None:
    """The shape of a rectangular nested list of numbers, else None."""
    if isinstance(value, (list, tuple)):
        shapes = [_shape(v) for v in value]
        if any(s is None for s in shapes) or any(s != shapes[0] for s in shapes):
            return None
        return [len(value), *(shapes[0] if shapes else [])]
    if isinstance(value, bool) or isinstance(value, (int, float)):
        return []
    return None


def encode(value: Any) -> dict:
    """``value`` as plain JSON data: numbers, arrays (tensors, numpy arrays, nested lists of numbers)
    with their shape (and dtype; a number is an array of shape ()), text, None, lists, dicts and sets
    of these; anything else by its type."""
    data = getattr(value, "data", None)
    if type(value).__module__.split(".")[0] != "torch" and type(data).__module__.split(".")[0] == "torch":
        value = data  # scratchlib's engine Tensor: its torch tensor
    kind = type(value).__module__.split(".")[0]
    if kind in ("torch", "numpy") and hasattr(value, "tolist") and hasattr(value, "shape"):
        if hasattr(value, "detach"):
            value = value.detach().cpu()
            if value.is_complex():
                value = value.real
        shape = [int(n) for n in value.shape]
        return _array(value.tolist() if shape else [value.tolist()], shape, str(value.dtype).replace("torch.", ""))
    if kind in ("torch", "numpy") and hasattr(value, "item") and not hasattr(value, "shape"):
        value = value.item()  # a numpy scalar
    if value is None:
        return {"kind": "none"}
    if isinstance(value, bool):
        return {"kind": "bool", "value": value}
    if isinstance(value, (int, float)):  # a number is an array of shape (), as a tensor holding one
        return _array([value], [])
    if isinstance(value, str):
        return {"kind": "text", "value": value[:2000]}
    if kind == "torch" and type(value).__name__ == "dtype":
        return {"kind": "text", "value": str(value)}
    if isinstance(value, (list, tuple)):
        shape = _shape(value)
        if shape is not None and shape:
            return _array(list(value), shape)
        return {"kind": "list", "items": [encode(v) for v in value]}
    if isinstance(value, dict):
        return {"kind": "dict", "items": {str(k): encode(v) for k, v in value.items()}}
    if isinstance(value, (set, frozenset)):  # its members, in one order whatever the set's own
        return {"kind": "set", "items": sorted(json.dumps(encode(v), sort_keys=True) for v in value)}
    return {"kind": "object", "type": type(value).__name__}


def _close(a: Any, e: Any, atol: float, rtol: float) -> bool:
    if a == e:  # a non-finite float ("nan", "inf") matches only itself
        return True
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, e))
    return numbers and abs(a - e) <= atol + rtol * abs(e)


def differ(actual: dict, expected: dict, atol: float = 0.0, rtol: float = 0.0, dtype: bool = False) -> dict | None:
    """How an encoded actual value differs from an encoded expected one, within the tolerances
    (|a - e| <= atol + rtol * |e| entry by entry; NaN matches NaN); None where it does not.

    The answer names no value: {"what": "kind" | "shape" | "dtype" | "entries" | "value" | "length",
    "where": [indices of the first entries that differ], "count": how many, "of": how many in all}.
    """
    if not isinstance(actual, dict) or not isinstance(expected, dict):
        return {"what": "kind"}
    kind = expected.get("kind")
    if actual.get("kind") != kind:
        return {"what": "kind", "got": str(actual.get("kind")), "want": str(kind)}
    if kind == "array":
        if actual.get("shape") != expected.get("shape"):
            return {"what": "shape", "got": actual.get("shape"), "want": expected.get("shape")}
        if dtype and actual.get("dtype") != expected.get("dtype"):
            return {"what": "dtype", "got": actual.get("dtype"), "want": expected.get("dtype")}
        if "values" not in expected or "values" not in actual:
            a, e = actual.get("summary"), expected.get("summary")
            same = isinstance(a, list) and isinstance(e, list) and len(a) == len(e)
            if same and all(_close(x, y, atol, rtol * 10) for x, y in zip(a, e)):
                return None
            return {"what": "entries", "where": [], "count": 1, "of": 1}
        a, e = actual["values"], expected["values"]
        if not isinstance(a, list) or len(a) != len(e):
            return {"what": "shape", "got": actual.get("shape"), "want": expected.get("shape")}
        bad = [i for i, (x, y) in enumerate(zip(a, e)) if not _close(x, y, atol, rtol)]
        if not bad:
            return None
        shape = expected["shape"]
        if not shape:
            return {"what": "value"}
        return {"what": "entries", "where": [_index(i, shape) for i in bad[:SHOWN]], "count": len(bad), "of": len(e)}
    if kind in ("list", "dict"):
        a, e = actual.get("items"), expected.get("items")
        if type(a) is not type(e) or len(a) != len(e):
            return {"what": "length"}
        pairs = zip(a, e) if isinstance(e, list) else ((a.get(k), e[k]) for k in e)
        for i, (x, y) in enumerate(pairs):
            found = differ(x, y, atol, rtol, dtype)
            if found is not None:
                return {**found, "item": i}
        return None
    return None if actual == expected else {"what": "value"}


def _index(flat: int, shape: list[int]) -> list[int]:
    index = []
    for n in reversed(shape):
        index.append(flat % n if n else 0)
        flat = flat // n if n else 0
    return index[::-1]


_KINDS = {"array": "numbers", "none": "None", "bool": "a bool", "text": "text", "list": "a list", "dict": "a dict"}


def describe(found: dict) -> str:
    """A difference found by ``differ`` in words, naming no value."""
    what = found.get("what")
    item = f"item {found['item']}: " if "item" in found else ""
    if what == "entries":
        where = ", ".join("[" + ", ".join(map(str, i)) + "]" for i in found.get("where", []))
        more = ", ..." if found.get("count", 0) > len(found.get("where", [])) else ""
        at = f" (at {where}{more})" if where else ""
        return f"{item}{found.get('count')} of {found.get('of')} entries differ{at}"
    if what == "shape":
        return f"{item}shape {tuple(found.get('got') or ())}, expected {tuple(found.get('want') or ())}"
    if what == "dtype":
        return f"{item}dtype {found.get('got')}, expected {found.get('want')}"
    if what == "kind":
        got, want = _KINDS.get(found.get("got"), "a value"), _KINDS.get(found.get("want"), "a value")
        return f"{item}{got} where {want} is expected"
    if what == "length":
        return f"{item}a different number of items"
    return f"{item}the value differs"


def _record(value: dict, atol: float, rtol: float, dtype: bool) -> None:
    path = os.environ.get(VALUES)
    if not path:
        return
    line = json.dumps({"event": "value", "value": value, "atol": atol, "rtol": rtol, "dtype": dtype})
    with open(path, "a") as f:
        f.write(line + "\n")


def _shown(value: dict, index: list[int]) -> str:
    flat = 0
    for i, n in zip(index, value.get("shape", [])):
        flat = flat * n + i
    values = value.get("values") or []
    return str(values[flat]) if flat < len(values) else "?"


def expect(actual: Any, expected: Any, *, atol: float = 0.0, rtol: float = 0.0, dtype: bool = False) -> None:
    """Assert that ``actual`` matches ``expected``: the same kind and shape, every entry within
    ``atol + rtol * |expected|`` (exactly equal with the default 0, as ``==``), and with ``dtype``
    the same dtype. Numbers, nested lists of numbers, tensors (torch, numpy, scratchlib's engine),
    None, text, lists and dicts of these."""
    got, want = encode(actual), encode(expected)
    _record(got, float(atol), float(rtol), bool(dtype))
    found = differ(got, want, float(atol), float(rtol), dtype)
    if found is None:
        return
    message = describe(found)
    if found.get("what") == "entries" and "item" not in found:
        message += ": " + "; ".join(
            f"at {i} got {_shown(got, i)}, expected {_shown(want, i)}" for i in found.get("where", [])
        )
    elif found.get("what") in ("value", "kind", "length") or "item" in found:
        message += f": got {actual!r}, expected {expected!r}"[:1000]
    tolerance = f" (atol={atol:g}, rtol={rtol:g})" if atol or rtol else ""
    raise AssertionError(f"expect: {message}{tolerance}")
