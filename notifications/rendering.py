"""Render notice templates fast, with exactly the Django template language's output.

Batch ingestion renders three templates (subject, text, HTML) for every decision: 3,000 renders for a batch
of 1,000. Django's renderer walks its node tree on every call: a debug wrapper around each node, a context
stack searched for every name, a block context, the parent of ``{% extends %}`` found again, a SafeString
per node list - about 2 ms per notice body. ``render_template(name, context)`` instead turns each template,
once, into a Python function (the way Jinja2 compiles templates) and calls it: a few hundredths of that.

Exactness is the point: a notice is stored exactly as sent, and the templates carry versions and
fingerprints. The generated code follows Django's rules step by step rather than approximating them:

- a name is looked up in the loop variables in scope, then in the context dict, then among Django's
  builtins (``True``, ``False``, ``None``); each further ``.bit`` tries a key, then an attribute, then a
  list index; callables met on the way are called as Django calls them (``do_not_call_in_templates``,
  ``alters_data``, arguments required); a failed lookup renders as ``string_if_invalid`` (which must be
  empty, Django's default) and is false in ``{% if %}``;
- values are converted by ``render_value_in_context``'s rules (a plain str is escaped with the same
  ``html.escape``; anything else is localised and converted through Django's own functions);
- autoescaping follows ``{% autoescape %}`` blocks; ``{% for %}`` keeps the full ``forloop`` (counter,
  counter0, revcounter, revcounter0, first, last, parentloop), unpacking and ``{% empty %}``;
- ``{% extends %}`` with a constant parent name and ``{% block %}`` resolve to the most derived block.

Supported: text, variables without filters, ``if``/``elif``/``else`` on a bare variable, ``for`` (with
``reversed``, unpacking, ``empty``), ``block``, ``extends``, ``autoescape``, ``comment`` and ``load``. A
template that uses anything else (filters, operators in ``if``, ``include``, ``with``, ``{{ block.super }}``,
custom tags...) is rendered by Django itself, so nothing ever renders differently, only slower.

Compiled functions are kept per Django template object: when the dev server reloads a changed template,
Django's cached loader hands out a new object and a new function is compiled for it.
tests/notifications/test_rendering.py compares both renderers on every notice template and on templates
written to probe each construct.
"""

from __future__ import annotations

import functools
import html
import weakref
from collections.abc import Callable, Mapping
from inspect import signature
from typing import Any, cast

from django.conf import settings
from django.template import engines
from django.template.base import (
    Template,
    TextNode,
    Variable,
    VariableDoesNotExist,
    VariableNode,
)
from django.template.defaulttags import (
    AutoEscapeControlNode,
    CommentNode,
    ForNode,
    IfNode,
    LoadNode,
    TemplateLiteral,
)
from django.template.loader_tags import BlockNode, ExtendsNode
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]

Rendered = Callable[[Mapping[str, Any]], str]

_M = object()  # a failed lookup
_BUILTINS = {"True": True, "False": False, "None": None}  # what every Django Context starts with


class Unsupported(Exception):
    """The template uses a construct the compiler leaves to Django."""


# ------------------------------------------------------------------------------- runtime helpers


def _call(current: Any) -> Any:
    """A callable met during lookup, treated as ``Variable._resolve_lookup`` treats it."""
    if getattr(current, "do_not_call_in_templates", False):
        return current
    if getattr(current, "alters_data", False):
        return ""  # string_if_invalid
    try:
        return current()
    except TypeError:
        try:
            current_signature = signature(current)
        except ValueError:
            return ""
        try:
            current_signature.bind()
        except TypeError:  # arguments were required
            return ""
        raise


def _step(current: Any, bit: str) -> Any:
    """One ``.bit``: key, then attribute, then list index."""
    try:
        if not hasattr(type(current), "__getitem__"):
            raise TypeError
        return current[bit]
    except (TypeError, AttributeError, KeyError, ValueError, IndexError):
        try:
            return getattr(current, bit)
        except (TypeError, AttributeError):
            if bit in dir(current):  # raised by a property: Django re-raises it too
                raise
            try:
                return current[int(bit)]
            except (IndexError, ValueError, KeyError, TypeError):
                raise VariableDoesNotExist("Failed lookup for key [%s] in %r", (bit, current)) from None  # type: ignore[arg-type]


def _lk(current: Any, bits: tuple[str, ...]) -> Any:
    """The value of ``name.bit.bit`` from the value of ``name`` (``_M`` when the lookup fails)."""
    if current is _M:
        return _M
    try:
        if callable(current):
            current = _call(current)
        for bit in bits:
            if type(current) is dict:
                try:
                    current = current[bit]
                except KeyError:
                    current = _step(current, bit)
            else:
                current = _step(current, bit)
            if callable(current):
                current = _call(current)
    except VariableDoesNotExist:
        return _M
    except Exception as exc:
        if getattr(exc, "silent_variable_failure", False):
            return ""
        raise
    return current


def _val(value: Any, autoescape: bool) -> str:
    """``render_value_in_context`` for anything but a plain str (use_tz and use_l10n left to settings)."""
    if type(value) is int and not settings.USE_THOUSAND_SEPARATOR:
        return str(value)  # what number_format gives an int without grouping (forloop.counter, say)
    value = template_localtime(value, use_tz=None)
    value = localize(value, use_l10n=None)
    if autoescape:
        if not issubclass(type(value), str):
            value = str(value)
        return str(conditional_escape(value))
    return str(value)


def _forloop_parent(c: Mapping[str, Any]) -> Any:
    return c.get("forloop", {})


def _unpack(item: Any, n: int) -> Any:
    try:
        len_item = len(item)
    except TypeError:
        len_item = 1
    if n != len_item:
        raise ValueError(f"Need {n} values to unpack in for loop; got {len_item}. ")
    return item


_RUNTIME = {
    "_M": _M,
    "_lk": _lk,
    "_val": _val,
    # Notices repeat most of their strings (phrases, names, labels): escape each once.
    "_esc": functools.lru_cache(maxsize=16384)(html.escape),
    "_forloop_parent": _forloop_parent,
    "_unpack": _unpack,
}


# ------------------------------------------------------------------------------- the compiler


class _Compiler:
    def __init__(self, engine: Any) -> None:
        self.engine = engine
        if engine.string_if_invalid:
            raise Unsupported("string_if_invalid")  # its formatting rules stay with Django
        self.lines: list[str] = []
        self.counter = 0
        self.pending: list[str] = []  # adjacent text, written as one append

    # ---- output

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def line(self, depth: int, code: str) -> None:
        self.flush(depth)
        self.lines.append("    " * depth + code)

    def text(self, s: str) -> None:
        if s:
            self.pending.append(s)

    def flush(self, depth: int) -> None:
        if self.pending:
            text = "".join(self.pending)
            self.pending = []
            self.lines.append("    " * depth + f"a({text!r})")

    # ---- structure

    def function(self, template: Template) -> Rendered:
        nodes = list(template.nodelist)
        extends = next((n for n in nodes if isinstance(n, ExtendsNode)), None)
        self.lines = ["def render(c):", "    out = []", "    a = out.append"]
        scope: dict[str, str] = {}
        autoescape = bool(self.engine.autoescape)
        if extends is None:
            self.nodelist(nodes, {}, scope, autoescape, 1)
        else:
            self.extends(extends, {}, scope, autoescape, 1)
        self.flush(1)
        self.lines.append('    return "".join(out)')
        namespace = dict(_RUNTIME)
        code = compile("\n".join(self.lines), f"<compiled {template.origin.name}>", "exec")
        exec(code, namespace)  # noqa: S102 - our own generated code; template text enters only as repr()
        render: Any = namespace["render"]
        return cast(Rendered, render)

    def extends(
        self,
        node: Any,
        blocks: dict[str, BlockNode],
        scope: dict[str, str],
        autoescape: bool,
        depth: int,
    ) -> None:
        if node.parent_name.filters or not isinstance(node.parent_name.var, str):
            raise Unsupported("extends with a variable parent")
        merged = {**node.blocks, **blocks}  # the most derived definition of each block wins
        parent = self.engine.get_template(node.parent_name.var)
        parent_nodes = list(parent.nodelist)
        grand = next((n for n in parent_nodes if isinstance(n, ExtendsNode)), None)
        if grand is not None:
            self.extends(grand, merged, scope, autoescape, depth)
        else:
            self.nodelist(parent_nodes, merged, scope, autoescape, depth)

    def nodelist(
        self,
        nodes: Any,
        blocks: dict[str, BlockNode],
        scope: dict[str, str],
        autoescape: bool,
        depth: int,
    ) -> None:
        for node in nodes:
            self.node(node, blocks, scope, autoescape, depth)

    def node(
        self, node: Any, blocks: dict[str, BlockNode], scope: dict[str, str], autoescape: bool, depth: int
    ) -> None:
        kind = type(node)
        if kind is TextNode:
            self.text(node.s)
        elif kind is VariableNode:
            self.variable(node.filter_expression, scope, autoescape, depth)
        elif kind is BlockNode:
            block = blocks.get(node.name, node)
            self.nodelist(block.nodelist, blocks, scope, autoescape, depth)
        elif kind is IfNode:
            self.if_(node, blocks, scope, autoescape, depth)
        elif kind is ForNode:
            self.for_(node, blocks, scope, autoescape, depth)
        elif kind is AutoEscapeControlNode:
            self.nodelist(node.nodelist, blocks, scope, node.setting, depth)
        elif kind not in (CommentNode, LoadNode):
            raise Unsupported(kind.__name__)

    # ---- values

    def assign(self, target: str, fe: Any, scope: dict[str, str], depth: int) -> None:
        """Code that sets ``target`` to the value of a filter-free variable (``_M`` when the lookup fails).

        A step into a dict that has the key is done inline (the first thing Django tries, and it cannot
        fail); any other step goes through ``_lk``, which first calls a callable value, as Django does
        after every step. A callable reached inline is called by the next step or at the end."""
        var = fe.var
        if fe.filters or not isinstance(var, Variable) or var.translate or var.lookups is None:
            raise Unsupported(f"expression {fe.token!r}")
        first, *rest = var.lookups
        if first == "block":
            raise Unsupported("block.super")
        if first in scope:
            root = scope[first]
        elif first in _BUILTINS:
            root = f"c.get({first!r}, {first})"
        else:
            root = f"c.get({first!r}, _M)"
        self.line(depth, f"{target} = {root}")
        for bit in rest:
            self.line(
                depth,
                f"{target} = {target}[{bit!r}] if type({target}) is dict and {bit!r} in {target} "
                f"else _lk({target}, ({bit!r},))",
            )
        self.line(depth, f"if callable({target}): {target} = _lk({target}, ())")

    def variable(self, fe: Any, scope: dict[str, str], autoescape: bool, depth: int) -> None:
        v = self.name("v")
        self.assign(v, fe, scope, depth)
        if autoescape:
            out = f"_esc({v}) if type({v}) is str else _val({v}, True)"
        else:
            out = f"{v} if type({v}) is str else _val({v}, False)"
        self.line(depth, f"if {v} is not _M: a({out})")

    # ---- tags

    def if_(
        self, node: Any, blocks: dict[str, BlockNode], scope: dict[str, str], autoescape: bool, depth: int
    ) -> None:
        first = True
        for condition, nodelist in node.conditions_nodelists:
            if condition is None:
                self.line(depth, "else:")
            else:
                if type(condition) is not TemplateLiteral:
                    raise Unsupported("an operator in if")
                m = self.name("m")
                # elif: evaluated only when the branches before did not match, as Django does.
                if not first:
                    self.line(depth, "else:")
                    depth += 1
                self.assign(m, condition.value, scope, depth)
                self.line(depth, f"if {m} is not _M and {m}:")
            first = False
            self.nodelist(nodelist, blocks, scope, autoescape, depth + 1)
            self.flush(depth + 1)
            self.lines.append("    " * (depth + 1) + "pass")

    def for_(
        self, node: Any, blocks: dict[str, BlockNode], scope: dict[str, str], autoescape: bool, depth: int
    ) -> None:
        seq, n, i, item, loop = (self.name(p) for p in ("seq", "n", "i", "item", "loop"))
        parent = scope.get("forloop", "_forloop_parent(c)")
        self.assign(seq, node.sequence, scope, depth)
        self.line(depth, f"if {seq} is _M or {seq} is None: {seq} = []")
        self.line(depth, f'if not hasattr({seq}, "__len__"): {seq} = list({seq})')
        self.line(depth, f"{n} = len({seq})")
        self.line(depth, f"if {n} < 1:")
        self.nodelist(node.nodelist_empty, blocks, scope, autoescape, depth + 1)
        self.flush(depth + 1)
        self.lines.append("    " * (depth + 1) + "pass")
        self.line(depth, "else:")
        d = depth + 1
        if node.is_reversed:
            self.line(d, f"{seq} = reversed({seq})")
        self.line(d, f'{loop} = {{"parentloop": {parent}}}')
        self.line(d, f"for {i}, {item} in enumerate({seq}):")
        d += 1
        self.line(d, f'{loop}["counter0"] = {i}')
        self.line(d, f'{loop}["counter"] = {i} + 1')
        self.line(d, f'{loop}["revcounter"] = {n} - {i}')
        self.line(d, f'{loop}["revcounter0"] = {n} - {i} - 1')
        self.line(d, f'{loop}["first"] = {i} == 0')
        self.line(d, f'{loop}["last"] = {i} == {n} - 1')
        inner = {**scope, "forloop": loop}
        if len(node.loopvars) == 1:
            inner[node.loopvars[0]] = item
        else:
            names = [self.name("u") for _ in node.loopvars]
            self.line(d, f"{', '.join(names)}, = _unpack({item}, {len(names)})")
            # dict(zip(loopvars, item)): with a repeated name, the last value wins.
            inner.update(dict(zip(node.loopvars, names, strict=True)))
        self.nodelist(node.nodelist_loop, blocks, inner, autoescape, d)
        self.flush(d)


# Compiled functions per Django template object (None: Django renders it).
_compiled: weakref.WeakKeyDictionary[Template, Rendered | None] = weakref.WeakKeyDictionary()


def compile_template(template: Template) -> Rendered | None:
    """``template`` (a ``django.template.base.Template``) as a function of its context dict, or None when
    it uses something the compiler leaves to Django. Compiled once per template object."""
    try:
        return _compiled[template]
    except KeyError:
        pass
    try:
        render: Rendered | None = _Compiler(template.engine).function(template)
    except Unsupported:
        render = None
    _compiled[template] = render
    return render


def template_renderer(name: str) -> Rendered:
    """A function rendering the Django template ``name`` from a context dict: compiled when it can be,
    Django's own renderer otherwise. Look it up once and call it many times (a batch of notices)."""
    backend_template = engines["django"].get_template(name)
    render = compile_template(backend_template.template)  # type: ignore[attr-defined]
    if render is not None:
        return render
    return lambda context: str(backend_template.render(dict(context)))


def render_template(name: str, context: Mapping[str, Any]) -> str:
    """What ``engines["django"].get_template(name).render(context)`` returns (no request, so no context
    processors), as a str."""
    backend_template = engines["django"].get_template(name)
    render = compile_template(backend_template.template)  # type: ignore[attr-defined]
    if render is None:
        return str(backend_template.render(dict(context)))
    return render(context)
