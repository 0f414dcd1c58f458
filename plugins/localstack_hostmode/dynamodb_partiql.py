"""PartiQL for DynamoDB: parse the statements DynamoDB supports into plain data.

moto's PartiQL engine answers HTTP 500 for much of what DynamoDB accepts (parameters in an
INSERT, an UPDATE or DELETE with parameters, a syntax error) and applies an UPDATE or DELETE
without the full key to every matching item. So statements are parsed here, and
dynamodb_partiql_run.py runs them as the item operations DynamoDB itself documents them as.

Supported: ``SELECT <*|paths> FROM "table"[."index"] [WHERE cond]``,
``INSERT INTO "table" VALUE {...}``, ``UPDATE "table" SET p = v [, | SET ...] [REMOVE p]
WHERE cond [RETURNING ...]`` and ``DELETE FROM "table" WHERE cond [RETURNING ALL OLD *]``,
with ``?`` parameters, literals (strings, numbers, booleans, NULL, lists, maps, ``<<sets>>``)
and conditions (comparisons, BETWEEN, IN, IS [NOT] MISSING, functions, AND/OR/NOT).
Pure functions: no LocalStack imports.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

MALFORMED = "Statement wasn't well formed, can't be processed: "


class PartiQLError(Exception):
    """A DynamoDB error: ``code`` as the API names it, ``message`` as DynamoDB words it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reasons: list[dict] | None = None  # a cancelled transaction's, per statement


def malformed(reason: str) -> PartiQLError:
    return PartiQLError("ValidationException", MALFORMED + reason)


_TOKEN = re.compile(r"""
    \s+ | (?P<str>'(?:[^']|'')*') | (?P<ident>"(?:[^"]|"")*")
  | (?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?) | (?P<op><<|>>|<=|>=|<>|!=|[=<>?(),.:\[\]{}+\-*])
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise malformed(f"unexpected character {text[pos]!r}")
        pos = match.end()
        if match.lastgroup:
            tokens.append((match.lastgroup, match.group()))
    return tokens


@dataclass
class Statement:
    kind: str  # SELECT, INSERT, UPDATE, DELETE
    table: str
    index: str | None = None
    projection: list[list] | None = None  # None: *
    where: tuple | None = None
    item: dict | None = None
    sets: list[tuple] = field(default_factory=list)  # (action, path, value expression)
    removes: list[list] = field(default_factory=list)
    returning: str | None = None


_RETURNING = {("ALL", "OLD"): "ALL_OLD", ("MODIFIED", "OLD"): "UPDATED_OLD",
              ("ALL", "NEW"): "ALL_NEW", ("MODIFIED", "NEW"): "UPDATED_NEW"}
_COMPARISONS = ("=", "<>", "!=", "<", "<=", ">", ">=")


class Parser:
    """Recursive descent over the tokens; ``?`` takes the next of ``parameters``."""

    def __init__(self, text: str, parameters: list[dict] | None = None) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.parameters = list(parameters or [])
        self.used = 0

    # -- tokens ---------------------------------------------------------------------------

    def peek(self, offset: int = 0) -> tuple[str, str]:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else ("end", "")

    def at(self, *words: str) -> bool:
        kind, text = self.peek()
        return (kind in ("word", "op")) and text.upper() in words

    def take(self, *words: str) -> str:
        kind, text = self.peek()
        if words and not self.at(*words):
            raise malformed(f"expected {' or '.join(words)} but found {text or 'end of input'}")
        if kind == "end":
            raise malformed("unexpected end of statement")
        self.pos += 1
        return text

    # -- statements -----------------------------------------------------------------------

    def statement(self) -> Statement:
        verb = self.take().upper()
        parse = {"SELECT": self.select, "INSERT": self.insert, "UPDATE": self.update,
                 "DELETE": self.delete}.get(verb)
        if not parse:
            raise malformed(f"unexpected keyword {verb}")
        result = parse()
        if self.peek()[0] != "end":
            raise malformed(f"unexpected {self.peek()[1]}")
        if self.used != len(self.parameters):
            raise PartiQLError("ValidationException",
                               "Number of parameters in request and statement don't match.")
        return result

    def table_name(self) -> tuple[str, str | None]:
        name = self.identifier()
        index = None
        if self.at("."):
            self.take(".")
            index = self.identifier()
        return name, index

    def identifier(self) -> str:
        kind, text = self.peek()
        if kind == "ident":
            self.pos += 1
            return text[1:-1].replace('""', '"')
        if kind == "word":
            self.pos += 1
            return text
        raise malformed(f"expected an identifier but found {text or 'end of input'}")

    def select(self) -> Statement:
        projection = None
        if self.at("*"):
            self.take("*")
        else:
            projection = [self.path()]
            while self.at(","):
                self.take(",")
                projection.append(self.path())
        self.take("FROM")
        table, index = self.table_name()
        return Statement("SELECT", table, index, projection=projection, where=self.where())

    def insert(self) -> Statement:
        self.take("INTO")
        table, _ = self.table_name()
        self.take("VALUE")
        item = self.value()
        if "M" not in item:
            raise malformed("VALUE must be a tuple")
        return Statement("INSERT", table, item=item["M"])

    def update(self) -> Statement:
        table, _ = self.table_name()
        statement = Statement("UPDATE", table)
        while self.at("SET", "REMOVE"):
            if self.take().upper() == "REMOVE":
                statement.removes.append(self.path())
                continue
            statement.sets.append(self.assignment())
            while self.at(","):
                self.take(",")
                statement.sets.append(self.assignment())
        if not statement.sets and not statement.removes:
            raise malformed("expected SET or REMOVE")
        statement.where = self.where(required=True)
        statement.returning = self.returning()
        return statement

    def delete(self) -> Statement:
        self.take("FROM")
        table, _ = self.table_name()
        statement = Statement("DELETE", table, where=self.where(required=True))
        statement.returning = self.returning()
        return statement

    def where(self, required: bool = False) -> tuple | None:
        if not self.at("WHERE"):
            if required:
                raise malformed("expected WHERE")
            return None
        self.take("WHERE")
        return self.disjunction()

    def returning(self) -> str | None:
        if not self.at("RETURNING"):
            return None
        self.take("RETURNING")
        which = (self.take("ALL", "MODIFIED").upper(), self.take("OLD", "NEW").upper())
        self.take("*")
        return _RETURNING[which]

    def assignment(self) -> tuple:
        path = self.path()
        self.take("=")
        function = self.peek()[1].lower()
        if function in ("set_add", "set_delete") and self.peek(1)[1] == "(":
            self.pos += 2
            target = self.path()
            self.take(",")
            value = self.value()
            self.take(")")
            if target != path:
                raise malformed(f"{function} must update the attribute it reads")
            return ("ADD" if function == "set_add" else "DELETE", path, ("value", value))
        return ("SET", path, self.arithmetic())

    # -- conditions -----------------------------------------------------------------------

    def disjunction(self) -> tuple:
        return self.joined("OR", self.conjunction)

    def conjunction(self) -> tuple:
        return self.joined("AND", self.predicate)

    def joined(self, word: str, term: Callable[[], tuple]) -> tuple:
        """``term (word term)*``: one term alone, or (word in lower case, [terms])."""
        terms = [term()]
        while self.at(word):
            self.take(word)
            terms.append(term())
        return terms[0] if len(terms) == 1 else (word.lower(), terms)

    def predicate(self) -> tuple:
        if self.at("NOT"):
            self.take("NOT")
            return ("not", self.predicate())
        if self.at("(") :
            self.take("(")
            inner = self.disjunction()
            self.take(")")
            return inner
        left = self.operand()
        if left[0] == "call" and not self.at(*_COMPARISONS, "BETWEEN", "IN", "IS"):
            return left
        return self.comparison(left)

    def comparison(self, left: tuple) -> tuple:
        if self.at("BETWEEN"):
            self.take("BETWEEN")
            low = self.operand()
            self.take("AND")
            return ("between", left, low, self.operand())
        if self.at("IN"):
            self.take("IN")
            closing = "]" if self.take("[", "(") == "[" else ")"
            options = [self.operand()]
            while self.at(","):
                self.take(",")
                options.append(self.operand())
            self.take(closing)
            return ("in", left, options)
        if self.at("IS"):
            self.take("IS")
            negated = bool(self.at("NOT") and self.take("NOT"))
            self.take("MISSING")
            return ("call", "attribute_exists" if negated else "attribute_not_exists", [left])
        op = self.take(*_COMPARISONS)
        return ("cmp", "<>" if op == "!=" else op, left, self.operand())

    def arithmetic(self) -> tuple:
        left = self.operand()
        if self.at("+", "-"):
            op = self.take()
            return ("arith", op, left, self.operand())
        return left

    def operand(self) -> tuple:
        kind, text = self.peek()
        if kind in ("word", "ident") and self.peek(1)[1] == "(" and kind == "word":
            self.pos += 2
            args = [] if self.at(")") else [self.arithmetic()]
            while self.at(","):
                self.take(",")
                args.append(self.arithmetic())
            self.take(")")
            return ("call", text.lower(), args)
        if kind == "ident" or (kind == "word" and text.upper() not in _LITERAL_WORDS):
            return ("path", self.path())
        return ("value", self.value())

    def path(self) -> list:
        segments: list = [self.identifier()]
        while self.at(".", "["):
            if self.take() == ".":
                segments.append(self.identifier())
            else:
                segments.append(int(self.take()))
                self.take("]")
        return segments

    # -- values ---------------------------------------------------------------------------

    def value(self) -> dict:
        kind, text = self.peek()
        if text == "?":
            self.pos += 1
            if self.used >= len(self.parameters):
                raise PartiQLError("ValidationException",
                                   "Number of parameters in request and statement don't match.")
            self.used += 1
            return self.parameters[self.used - 1]
        if kind == "str":
            self.pos += 1
            return {"S": text[1:-1].replace("''", "'")}
        if kind == "num" or text == "-":
            return {"N": self.number()}
        reader = {"[": self.list_value, "{": self.map_value, "<<": self.set_value}.get(text)
        if reader:
            return reader()
        word = text.upper()
        if word in _LITERAL_WORDS:
            self.pos += 1
            return _LITERAL_WORDS[word]
        raise malformed(f"expected a value but found {text or 'end of input'}")

    def number(self) -> str:
        sign = self.take() if self.at("-") else ""
        kind, text = self.peek()
        if kind != "num":
            raise malformed(f"expected a number but found {text or 'end of input'}")
        self.pos += 1
        return str(Decimal(sign + text)) if "e" in text.lower() else sign + text

    def list_value(self) -> dict:
        self.take("[")
        items = [] if self.at("]") else [self.value()]
        while self.at(","):
            self.take(",")
            items.append(self.value())
        self.take("]")
        return {"L": items}

    def map_value(self) -> dict:
        self.take("{")
        entries: dict[str, Any] = {}
        while not self.at("}"):
            if entries:
                self.take(",")
            key = self.value()
            if "S" not in key:
                raise malformed("a tuple's keys must be strings")
            self.take(":")
            entries[key["S"]] = self.value()
        self.take("}")
        return {"M": entries}

    def set_value(self) -> dict:
        self.take("<<")
        members = [self.value()]
        while self.at(","):
            self.take(",")
            members.append(self.value())
        self.take(">>")
        kinds = {next(iter(m)) for m in members}
        if len(kinds) != 1 or kinds - {"S", "N", "B"}:
            raise malformed("a set holds strings, numbers or binaries of one kind")
        kind = kinds.pop()
        return {kind + "S": [m[kind] for m in members]}


_LITERAL_WORDS = {"TRUE": {"BOOL": True}, "FALSE": {"BOOL": False}, "NULL": {"NULL": True}}


def parse(text: str, parameters: list[dict] | None = None) -> Statement:
    """The statement ``text`` with its ``?`` bound to ``parameters``."""
    return Parser(text, parameters).statement()
