"""Run parsed PartiQL statements (dynamodb_partiql.py) as DynamoDB's item operations.

DynamoDB documents each statement as an item operation: SELECT with an equality on the
partition key is a Query (otherwise a Scan), INSERT a PutItem that fails with DuplicateItem on
an existing key, UPDATE an UpdateItem of an existing item (ConditionalCheckFailed otherwise),
DELETE a DeleteItem; UPDATE and DELETE need an equality on every key attribute. ``client`` is a
boto3 DynamoDB client; through LocalStack's gateway, so streams and locking apply as for any
item write. Pure of LocalStack: the unit tests run it against moto in-process.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from localstack_hostmode.dynamodb_partiql import PartiQLError, Statement, parse

NEEDS_KEY = "Where clause does not contain a mandatory equality on all key attributes"
BATCH_SELECT_NEEDS_KEY = ("Select statements within BatchExecuteStatement must specify the "
                          "primary key in the where clause.")
# the per-statement error codes of BatchExecuteStatement and of cancellation reasons
BATCH_CODES = {"ValidationException": "ValidationError",
               "ConditionalCheckFailedException": "ConditionalCheckFailed",
               "DuplicateItemException": "DuplicateItem",
               "ResourceNotFoundException": "ResourceNotFound"}
_SORT_KEY_OPERATORS = ("=", "<", "<=", ">", ">=")


class Expression:
    """Renders condition and update ASTs as DynamoDB expressions with #n / :v placeholders."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, dict] = {}

    def name(self, name: str) -> str:
        for placeholder, known in self.names.items():
            if known == name:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = name
        return placeholder

    def path(self, segments: list) -> str:
        text = self.name(segments[0])
        for segment in segments[1:]:
            text += f"[{segment}]" if isinstance(segment, int) else "." + self.name(segment)
        return text

    def value(self, value: dict) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def render(self, node: tuple) -> str:
        kind = node[0]
        if kind == "path":
            return self.path(node[1])
        if kind == "value":
            return self.value(node[1])
        if kind == "call":
            return f"{node[1]}({', '.join(self.render(arg) for arg in node[2])})"
        if kind == "arith":
            return f"{self.render(node[2])} {node[1]} {self.render(node[3])}"
        if kind == "cmp":
            return f"{self.render(node[2])} {node[1]} {self.render(node[3])}"
        if kind == "between":
            return " ".join((self.render(node[1]), "BETWEEN", self.render(node[2]), "AND",
                             self.render(node[3])))
        if kind == "in":
            options = ", ".join(self.render(option) for option in node[2])
            return f"{self.render(node[1])} IN ({options})"
        if kind == "not":
            return f"NOT ({self.render(node[1])})"
        joined = f" {kind.upper()} ".join(f"({self.render(term)})" for term in node[1])
        return joined

    def attributes(self, request: dict) -> dict:
        if self.names:
            request["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            request["ExpressionAttributeValues"] = dict(self.values)
        return request


def _conjuncts(where: tuple | None) -> list[tuple]:
    if where is None:
        return []
    return list(where[1]) if where[0] == "and" else [where]


def _key_equality(term: tuple, attribute: str) -> dict | None:
    """The value ``term`` sets ``attribute`` equal to, if it is ``attribute = value``."""
    if term[0] != "cmp" or term[1] != "=":
        return None
    for one, other in ((term[2], term[3]), (term[3], term[2])):
        if one == ("path", [attribute]) and other[0] == "value":
            return other[1]
    return None


def _is_sort_condition(term: tuple, attribute: str) -> bool:
    if term[0] == "cmp" and term[1] in _SORT_KEY_OPERATORS:
        return term[2] == ("path", [attribute]) and term[3][0] == "value"
    if term[0] == "between":
        return term[1] == ("path", [attribute]) and term[2][0] == term[3][0] == "value"
    return (term[0] == "call" and term[1] == "begins_with" and len(term[2]) == 2
            and term[2][0] == ("path", [attribute]) and term[2][1][0] == "value")


def _key_terms(where: tuple | None, keys: list[str]) -> list[tuple]:
    """The conditions of ``where`` a Query can take as its key condition (none: a Scan)."""
    if where is None or where[0] == "or":
        return []
    terms = _conjuncts(where)
    key_terms = [t for t in terms if _key_equality(t, keys[0]) is not None][:1]
    if key_terms and len(keys) > 1:
        key_terms += [t for t in terms if _is_sort_condition(t, keys[1])][:1]
    return key_terms


def _paging(limit: int | None, next_token: str | None, consistent_read: bool) -> dict:
    request: dict[str, Any] = {}
    if consistent_read:
        request["ConsistentRead"] = True
    if limit:
        request["Limit"] = limit
    if next_token:
        request["ExclusiveStartKey"] = json.loads(base64.b64decode(next_token))
    return request


class Runner:
    """Runs statements with ``client``; raises PartiQLError with DynamoDB's code and words."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._schemas: dict[str, dict] = {}

    def call(self, operation: str, **request: Any) -> dict:
        try:
            return getattr(self.client, operation)(**request)
        except Exception as e:
            error = getattr(e, "response", {}).get("Error")
            if not error:
                raise
            failure = PartiQLError(error.get("Code", "ValidationException"),
                                   error.get("Message", ""))
            failure.reasons = e.response.get("CancellationReasons")
            raise failure from e

    def table(self, name: str) -> dict:
        if name not in self._schemas:
            try:
                self._schemas[name] = self.call("describe_table", TableName=name)["Table"]
            except PartiQLError as e:
                if e.code == "ResourceNotFoundException":
                    raise PartiQLError(e.code, "Requested resource not found") from e
                raise
        return self._schemas[name]

    def key_schema(self, statement: Statement) -> list[str]:
        """Key attribute names of the statement's table (or index), partition key first."""
        table = self.table(statement.table)
        schema = table["KeySchema"]
        if statement.index:
            indexes = table.get("GlobalSecondaryIndexes", []) + table.get(
                "LocalSecondaryIndexes", [])
            found = [i for i in indexes if i["IndexName"] == statement.index]
            if not found:
                raise PartiQLError("ValidationException",
                                   "The table does not have the specified index")
            schema = found[0]["KeySchema"]
        return [k["AttributeName"] for k in sorted(schema, key=lambda k: k["KeyType"])]

    def full_key(self, statement: Statement) -> tuple[dict, list[tuple]]:
        """The key the WHERE clause pins down, and its other conditions."""
        rest = _conjuncts(statement.where)
        if statement.where and statement.where[0] == "or":
            raise PartiQLError("ValidationException", NEEDS_KEY)
        key: dict[str, dict] = {}
        for attribute in self.key_schema(statement):
            for term in rest:
                value = _key_equality(term, attribute)
                if value is not None:
                    key[attribute] = value
                    rest = [t for t in rest if t is not term]
                    break
            else:
                raise PartiQLError("ValidationException", NEEDS_KEY)
        return key, rest

    # -- statements -------------------------------------------------------------------------

    def run(self, text: str, parameters: list | None = None, **options: Any) -> dict:
        statement = parse(text, parameters)
        run = {"SELECT": self.select, "INSERT": self.insert, "UPDATE": self.change,
               "DELETE": self.change}[statement.kind]
        return run(statement, **options)

    def select(self, statement: Statement, limit: int | None = None,
               next_token: str | None = None, consistent_read: bool = False) -> dict:
        key_terms = _key_terms(statement.where, self.key_schema(statement))
        expression = Expression()
        request: dict[str, Any] = {"TableName": statement.table}
        if statement.index:
            request["IndexName"] = statement.index
        if key_terms:
            request["KeyConditionExpression"] = " AND ".join(
                expression.render(t) for t in key_terms)
        rest = [t for t in _conjuncts(statement.where) if t not in key_terms] if key_terms else (
            [statement.where] if statement.where else [])
        if rest:
            request["FilterExpression"] = " AND ".join(f"({expression.render(t)})" for t in rest)
        if statement.projection:
            request["ProjectionExpression"] = ", ".join(
                expression.path(p) for p in statement.projection)
        request.update(_paging(limit, next_token, consistent_read))
        out = self.call("query" if key_terms else "scan", **expression.attributes(request))
        result: dict[str, Any] = {"Items": out.get("Items", [])}
        if out.get("LastEvaluatedKey"):
            result["NextToken"] = base64.b64encode(
                json.dumps(out["LastEvaluatedKey"]).encode()).decode()
        return result

    def write_request(self, statement: Statement) -> tuple[str, dict]:
        """The item operation of a write statement: (PutItem|UpdateItem|DeleteItem, request)."""
        if statement.kind == "INSERT":
            partition_key = self.key_schema(statement)[0]
            expression = Expression()
            absent = f"attribute_not_exists({expression.name(partition_key)})"
            request = {"TableName": statement.table, "Item": statement.item,
                       "ConditionExpression": absent}
            return "Put", expression.attributes(request)
        key, rest = self.full_key(statement)
        expression = Expression()
        conditions = [f"({expression.render(t)})" for t in rest]
        request: dict[str, Any] = {"TableName": statement.table, "Key": key}
        if statement.kind == "UPDATE":
            first_key = next(iter(key))
            conditions.insert(0, f"attribute_exists({expression.name(first_key)})")
            request["UpdateExpression"] = self.update_expression(statement, expression)
        if conditions:
            request["ConditionExpression"] = " AND ".join(conditions)
        return ("Update" if statement.kind == "UPDATE" else "Delete"), expression.attributes(
            request)

    @staticmethod
    def update_expression(statement: Statement, expression: Expression) -> str:
        clauses: dict[str, list[str]] = {}
        for action, path, value in statement.sets:
            separator = " = " if action == "SET" else " "
            clauses.setdefault(action, []).append(
                expression.path(path) + separator + expression.render(value))
        if statement.removes:
            clauses["REMOVE"] = [expression.path(p) for p in statement.removes]
        return " ".join(f"{action} {', '.join(parts)}" for action, parts in clauses.items())

    def insert(self, statement: Statement, **_options: Any) -> dict:
        _, request = self.write_request(statement)
        try:
            self.call("put_item", **request)
        except PartiQLError as e:
            if e.code == "ConditionalCheckFailedException":
                raise PartiQLError("DuplicateItemException",
                                   "Duplicate primary key exists in table") from e
            raise
        return {"Items": []}

    def change(self, statement: Statement, **_options: Any) -> dict:
        """UPDATE or DELETE; RETURNING is the item operation's ReturnValues."""
        operation, request = self.write_request(statement)
        if statement.returning:
            request["ReturnValues"] = statement.returning
        out = self.call(f"{operation.lower()}_item", **request)
        return {"Items": [out["Attributes"]] if out.get("Attributes") else []}

    # -- batches and transactions -----------------------------------------------------------

    def batch(self, statements: list[dict]) -> list[dict]:
        """BatchExecuteStatement: each statement on its own, an error per failed one."""
        return [self.batch_one(s) for s in statements]

    def batch_one(self, request: dict) -> dict:
        table = None
        try:
            statement = parse(request["Statement"], request.get("Parameters"))
            table = statement.table
            if statement.kind == "SELECT":
                key, _ = self.full_key(statement)
                if statement.index:
                    raise PartiQLError("ValidationException", BATCH_SELECT_NEEDS_KEY)
                out = self.call("get_item", TableName=table, Key=key,
                                ConsistentRead=bool(request.get("ConsistentRead")))
                return {"TableName": table, **({"Item": out["Item"]} if "Item" in out else {})}
            (self.insert if statement.kind == "INSERT" else self.change)(statement)
            return {"TableName": table}
        except PartiQLError as e:
            message = BATCH_SELECT_NEEDS_KEY if e.message == NEEDS_KEY and (
                request["Statement"].lstrip()[:6].upper() == "SELECT") else e.message
            error = {"Code": BATCH_CODES.get(e.code, e.code.removesuffix("Exception")),
                     "Message": message}
            return {"Error": error, **({"TableName": table} if table else {})}

    def transaction(self, statements: list[dict], token: str | None = None) -> dict:
        """ExecuteTransaction: all reads (TransactGetItems) or all writes (TransactWriteItems)."""
        parsed = [parse(s["Statement"], s.get("Parameters")) for s in statements]
        if all(p.kind == "SELECT" for p in parsed):
            gets = [{"Get": {"TableName": p.table, "Key": self.full_key(p)[0]}} for p in parsed]
            out = self.call("transact_get_items", TransactItems=gets)
            return {"Responses": [r for r in out.get("Responses", [])]}
        if any(p.kind == "SELECT" for p in parsed):
            raise PartiQLError("ValidationException",
                               "Transactions must contain either reads only or writes only")
        items = [dict([self.write_request(p)]) for p in parsed]
        request: dict[str, Any] = {"TransactItems": items}
        if token:
            request["ClientRequestToken"] = token
        try:
            self.call("transact_write_items", **request)
        except PartiQLError as e:
            _name_duplicates(parsed, e.reasons or [])
            raise
        return {"Responses": []}


def _name_duplicates(statements: list[Statement], reasons: list[dict]) -> None:
    """An INSERT's failed condition in a cancelled transaction is a duplicate key."""
    for statement, reason in zip(statements, reasons, strict=False):
        if statement.kind == "INSERT" and reason.get("Code") == "ConditionalCheckFailed":
            reason.update({"Code": "DuplicateItem",
                           "Message": "Duplicate primary key exists in table"})
