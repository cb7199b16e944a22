"""Reading HCL: the only module that imports python-hcl2.

:func:`parse_file` reads a ``.tf`` or ``.tfvars`` file into a
:class:`~.syntax.Body`, converting python-hcl2's raw parse tree (its Lark
tree, which keeps every position) into :mod:`.syntax` values: strings come
unescaped, templates as parts, heredocs with their indentation removed
(``<<-``) and their interpolations parsed. The parser is imported on first use:
building its grammar costs a noticeable time, paid only by ``--terraform``.

Terraform rejects what python-hcl2 accepts silently: an attribute given
twice, and an attribute and a block of one name; so does this module.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from emulator.errors import ConfigError
from emulator.model.bounds import MAX_DEPTH
from emulator.model.templates.terraform.syntax import (
    Attribute,
    Binary,
    Block,
    Body,
    Call,
    Conditional,
    Expr,
    ForExpr,
    GetAttr,
    Index,
    Literal,
    ObjectExpr,
    Splat,
    TemplateExpr,
    TemplateFor,
    TemplateIf,
    TupleExpr,
    Unary,
    Variable,
)
from emulator.model.yaml_files import read_bounded

__all__ = ["INSTALL_HINT", "parse_expression", "parse_file"]

INSTALL_HINT = "reading Terraform needs python-hcl2: pip install 'python-hcl2>=8.1.3,<9'"
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.DOTALL)


def _hcl2() -> Any:
    try:
        import hcl2
    except ImportError as exc:  # an optional part of an install without the extra
        raise ConfigError(INSTALL_HINT) from exc
    return hcl2


def parse_file(path: Path, source: str) -> Body:
    """The body of one HCL file; errors name ``source`` and the line."""
    raw = read_bounded(path)
    try:
        # Terraform reads UTF-8 and ignores a byte order mark; python-hcl2 does not.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read the file ({exc})", source=source) from exc
    return _Converter(source).body(_parse(text, source, 0), top=True)


def parse_expression(text: str, source: str, line: int) -> Expr:
    """One expression (a ``--var`` value, an interpolation of a heredoc)."""
    tree = _parse(f"x = {text}\n", source, line - 1)
    (attribute,) = _Converter(source, line - 1).body(tree).attributes.values()
    return attribute.value


def _parse(text: str, source: str, offset: int) -> Any:
    hcl2 = _hcl2()
    from lark.exceptions import UnexpectedInput  # python-hcl2's parser

    try:
        return hcl2.parses_to_tree(text).children[0]
    except UnexpectedInput as exc:
        line = getattr(exc, "line", 0) + offset
        token = getattr(exc, "token", None)
        what = f"unexpected {str(token)!r}" if token not in (None, "") else "unexpected text"
        if getattr(token, "type", "") == "$END":
            what = "unexpected end of file"
        problem = f"invalid HCL at line {line}, column {getattr(exc, 'column', 0)}: {what}"
        raise ConfigError(problem, source=source) from None


def _unescape(raw: str) -> str:
    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape[0] in "uU" and len(escape) > 1:
            return chr(int(escape[1:], 16))
        return _ESCAPES.get(escape, "\\" + escape)

    return _ESCAPE.sub(replace, raw)


class _Converter:
    """python-hcl2's Lark tree (rule names of its grammar) to :mod:`.syntax` values."""

    def __init__(self, source: str, offset: int = 0) -> None:
        self.source = source
        self.offset = offset
        self.depth = 0

    def _line(self, node: Any) -> int:
        return int(getattr(node.meta, "line", 0)) + self.offset

    def _error(self, problem: str, node: Any) -> ConfigError:
        return ConfigError(problem, source=f"{self.source}:{self._line(node)}")

    @staticmethod
    def _trees(node: Any) -> list[Any]:
        return [
            child
            for child in node.children
            if hasattr(child, "data") and child.data != "new_line_or_comment"
        ]

    @staticmethod
    def _tokens(node: Any) -> list[Any]:
        return [child for child in node.children if not hasattr(child, "data")]

    # Structure

    def body(self, node: Any, *, top: bool = False) -> Body:
        attributes: dict[str, Attribute] = {}
        blocks: list[Block] = []
        for child in self._trees(node):
            if child.data == "attribute":
                name = self._name(child.children[0])
                if name in attributes:
                    raise self._error(f"attribute {name!r} is given twice", child)
                attributes[name] = Attribute(name, self.expr(child.children[-1]), self._line(child))
            elif child.data == "block":
                blocks.append(self._block(child))
        for block in blocks:
            if block.type in attributes and not top:
                problem = f"{block.type!r} is both an attribute and a block"
                raise ConfigError(problem, source=f"{self.source}:{block.line}")
        return Body(attributes, tuple(blocks))

    def _block(self, node: Any) -> Block:
        trees = self._trees(node)
        kind, *labels, body = trees
        names = tuple(self._label(label) for label in labels)
        return Block(self._name(kind), names, self.body(body), self.source, self._line(node))

    def _label(self, node: Any) -> str:
        if node.data == "string":
            value = self._string(node)
            if not isinstance(value, Literal) or not isinstance(value.value, str):
                raise self._error("a block label cannot hold an interpolation", node)
            return value.value
        return self._name(node)

    @staticmethod
    def _name(node: Any) -> str:
        return str(node.children[0])

    # Expressions

    def expr(self, node: Any) -> Expr:
        kind = str(node.data)
        if kind == "expr_term":
            return self.expr(self._trees(node)[0])
        # Expressions inside expressions (a list in a list, a term of a long sum):
        # as deep as JSON and YAML may nest here, well within Python's recursion.
        if self.depth >= MAX_DEPTH:
            raise self._error(f"expressions nested deeper than {MAX_DEPTH} levels", node)
        self.depth += 1
        try:
            return self._expr(node, kind)
        finally:
            self.depth -= 1

    def _expr(self, node: Any, kind: str) -> Expr:
        line = self._line(node)
        trees = self._trees(node)
        if kind == "conditional":
            return Conditional(line, *(self.expr(tree) for tree in trees))
        if kind == "binary_op":
            left, term = trees
            operator, right = self._trees(term)
            return Binary(line, str(operator.children[0]), self.expr(left), self.expr(right))
        if kind == "unary_op":
            return Unary(line, str(node.children[0]), self.expr(trees[0]))
        if kind == "int_lit":
            return Literal(line, int(node.children[0]))
        if kind == "float_lit":
            return Literal(line, float(node.children[0]))
        if kind == "literal_value":
            return Literal(line, {"true": True, "false": False}.get(str(node.children[0])))
        if kind == "identifier":
            return Variable(line, self._name(node))
        if kind == "string":
            return self._string(node)
        if kind == "template_string":
            return Literal(line, _unescape(str(node.children[0])[2:-2]))
        if kind in ("heredoc_template", "heredoc_template_trim"):
            return self._heredoc(str(node.children[0]), line, kind == "heredoc_template_trim")
        if kind == "tuple":
            return TupleExpr(line, tuple(self.expr(tree) for tree in trees))
        if kind == "object":
            return ObjectExpr(line, tuple(self._element(tree) for tree in trees))
        if kind == "function_call":
            names = [self._name(tree) for tree in trees if tree.data == "identifier"]
            arguments = [tree for tree in trees if tree.data == "arguments"]
            args = tuple(self.expr(a) for a in self._trees(arguments[0])) if arguments else ()
            expand = bool(arguments) and any(
                token.type == "ELLIPSIS" for token in self._tokens(arguments[0])
            )
            return Call(line, "::".join(names), args, expand)
        if kind == "index_expr_term":
            return self._step(self.expr(trees[0]), trees[1], line)
        if kind == "get_attr_expr_term":
            return self._step(self.expr(trees[0]), trees[1], line)
        if kind in ("attr_splat_expr_term", "full_splat_expr_term"):
            placeholder = Variable(line, "")
            steps = []
            for step in self._trees(trees[1]):
                built = self._step(placeholder, step, line)
                assert isinstance(built, GetAttr | Index)
                steps.append(built)
            return Splat(line, self.expr(trees[0]), tuple(steps))
        if kind in ("for_tuple_expr", "for_object_expr"):
            return self._for(node, trees, line)
        raise self._error(f"{kind.replace('_', ' ')} is not supported here", node)

    def _step(self, target: Expr, node: Any, line: int) -> Expr:
        if node.data == "get_attr":
            return GetAttr(line, target, self._name(self._trees(node)[0]))
        if node.data == "short_index":
            return Index(line, target, Literal(line, int(self._tokens(node)[-1])))
        return Index(line, target, self.expr(self._trees(node)[0]))

    def _element(self, node: Any) -> tuple[Expr, Expr]:
        key_node, value = self._trees(node)
        (key,) = self._trees(key_node) or [None]
        if key is None:  # a keyword such as `in` used as a key
            name: Expr = Literal(self._line(node), str(key_node.children[0]))
        else:
            name = self.expr(key)
            if isinstance(name, Variable):
                name = Literal(name.line, name.name)  # a bare key is its own name
        return name, self.expr(value)

    def _for(self, node: Any, trees: list[Any], line: int) -> Expr:
        intro, *rest = trees
        names: list[str] = []
        collection = None
        for child in intro.children:
            if hasattr(child, "data") and child.data == "identifier" and collection is None:
                names.append(self._name(child))
            elif hasattr(child, "data") and child.data != "new_line_or_comment":
                collection = self.expr(child)
        assert collection is not None
        condition = None
        if rest and rest[-1].data == "for_cond":
            condition = self.expr(self._trees(rest.pop())[0])
        key = self.expr(rest[0]) if node.data == "for_object_expr" else None
        group = any(getattr(t, "type", "") == "ELLIPSIS" for t in self._tokens(node))
        key_name, value_name = (names[0], names[1]) if len(names) == 2 else (None, names[0])
        return ForExpr(
            line, key_name, value_name, collection, key, self.expr(rest[-1]), condition, group
        )

    # Templates

    def _string(self, node: Any) -> Expr:
        parts: list[tuple[str, Any]] = []
        for part in self._trees(node):
            (child,) = part.children
            if not hasattr(child, "data"):
                text = str(child)
                if child.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                    text = text[1:]  # $${ and %%{ stand for ${ and %{
                else:
                    text = _unescape(text)
                parts.append(("text", text))
            elif child.data == "interpolation":
                parts.append(("expr", self.expr(self._trees(child)[0])))
            else:
                parts.append(self._directive(child))
        return _assemble(parts, self._line(node), self.source)

    def _directive(self, node: Any) -> tuple[str, Any]:
        kind = str(node.data).removeprefix("template_")
        if kind == "if_start":
            return ("if", self.expr(self._trees(node)[0]))
        if kind == "for_start":
            trees = self._trees(node)
            names = [self._name(t) for t in trees if t.data == "identifier"]
            return ("for", (names, self.expr(trees[-1])))
        return (kind, None)

    def _heredoc(self, token: str, line: int, trim: bool) -> Expr:
        lines = token.split("\n")[1:-2]  # the body: between the opening and closing markers
        if trim:
            indents = [len(text) - len(text.lstrip(" \t")) for text in lines if text.strip()]
            cut = min(indents, default=0)
            lines = [text[cut:] for text in lines]
        body = "".join(text.removesuffix("\r") + "\n" for text in lines)
        return _assemble(self._template_parts(body, line + 1), line, self.source)

    def _template_parts(self, text: str, line: int) -> list[tuple[str, Any]]:
        """A heredoc's body, whose interpolations the parser leaves unparsed."""
        parts: list[tuple[str, Any]] = []
        position = 0
        for match in re.finditer(r"(\$\$\{|%%\{)|(\$\{|%\{)", text):
            if match.start() < position:
                continue
            here = line + text.count("\n", 0, match.start())
            parts.append(("text", text[position : match.start()]))
            if match.group(1):
                parts.append(("text", match.group(1)[1:]))
                position = match.end()
                continue
            end = _closing_brace(text, match.end())
            if end < 0:
                raise ConfigError("an unclosed ${ or %{", source=f"{self.source}:{here}")
            inner = text[match.end() : end].strip().strip("~").strip()
            position = end + 1
            if match.group(2) == "${":
                parts.append(("expr", parse_expression(inner, self.source, here)))
                continue
            word, _, rest = inner.partition(" ")
            if word == "if":
                parts.append(("if", parse_expression(rest, self.source, here)))
            elif word == "for":
                names, _, collection = rest.partition(" in ")
                parts.append(
                    (
                        "for",
                        (
                            [name.strip() for name in names.split(",")],
                            parse_expression(collection, self.source, here),
                        ),
                    )
                )
            else:
                parts.append((word, None))
        parts.append(("text", text[position:]))
        return parts


def _closing_brace(text: str, start: int) -> int:
    depth, quoted, index = 0, False, start
    while index < len(text):
        char = text[index]
        if quoted:
            if char == "\\":
                index += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return index
            depth -= 1
        index += 1
    return -1


def _assemble(parts: list[tuple[str, Any]], line: int, source: str) -> Expr:
    """Template parts (text, expressions, flat directives) nested into expressions."""
    stack: list[tuple[str, Any, list[Expr], list[Expr] | None]] = [("top", None, [], None)]
    for kind, value in parts:
        current = stack[-1][3] if stack[-1][3] is not None else stack[-1][2]
        if kind == "text":
            previous = current[-1] if current else None
            if isinstance(previous, Literal) and isinstance(previous.value, str):
                current[-1] = Literal(previous.line, previous.value + value)
            elif value:
                current.append(Literal(line, value))
        elif kind == "expr":
            current.append(value)
        elif kind in ("if", "for"):
            stack.append((kind, value, [], None))
        elif kind == "else" and stack[-1][0] == "if" and stack[-1][3] is None:
            stack[-1] = (stack[-1][0], stack[-1][1], stack[-1][2], [])
        elif kind in ("endif", "endfor") and stack[-1][0] == kind[3:]:
            opened, value, first, second = stack.pop()
            target = stack[-1][3] if stack[-1][3] is not None else stack[-1][2]
            if opened == "if":
                then, otherwise = TemplateExpr(line, tuple(first)), TemplateExpr(line, ())
                if second is not None:
                    otherwise = TemplateExpr(line, tuple(second))
                target.append(TemplateIf(line, value, then, otherwise))
            else:
                names, collection = value
                key = names[0] if len(names) == 2 else None
                body = TemplateExpr(line, tuple(first))
                target.append(TemplateFor(line, key, names[-1], collection, body))
        else:
            raise ConfigError(f"a misplaced %{{{kind}}} directive", source=f"{source}:{line}")
    if len(stack) > 1:
        raise ConfigError(f"%{{{stack[-1][0]}}} is never closed", source=f"{source}:{line}")
    items = stack[0][2]
    if not items:
        return Literal(line, "")
    if len(items) == 1 and isinstance(items[0], Literal) and isinstance(items[0].value, str):
        return items[0]
    return TemplateExpr(line, tuple(items))
