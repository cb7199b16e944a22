"""routes.yaml: parsing into dataclasses, defaults, and one precise error per mistake."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.errors import ConfigError, SelectionExpressionError
from emulator.model import api, config
from emulator.model.api import (
    DEFAULT_ROUTE_SELECTION_EXPRESSION,
    MAX_ROUTES,
    PREDEFINED_ROUTES,
    ApiConfig,
    Limits,
    RouteConfig,
)
from emulator.model.config import load_config, parse_config
from emulator.model.function import FunctionConfig, function_name_for
from emulator.model.integration import LambdaIntegration
from emulator.model.selection import SelectionExpression, compile_expression

FULL_EXAMPLE = """\
routeSelectionExpression: $request.body.action
stage: local
environment:
  TABLE_NAME: connections
routes:
  $connect: handlers.chat.on_connect
  $disconnect: handlers.chat.on_disconnect
  sendmessage: handlers.chat.send_message
  $default:
    handler: handlers.chat.default
    routeResponse: true
    timeout: 29
    environment: {GREETING: hello}
limits:
  idleTimeout: 600
  maxConnectionDuration: 7200
  integrationTimeout: 29
  frameSize: 32768
  messageSize: 131072
"""

TABLE = MappingProxyType({"TABLE_NAME": "connections"})


def route(
    key: str,
    handler: str,
    *,
    route_response: bool = False,
    timeout: float = 29.0,
    environment: Mapping[str, str] = MappingProxyType({}),
) -> RouteConfig:
    """A RouteConfig with the defaults of a short-form route: a Lambda proxy
    integration of the implicit function its handler makes."""
    function = FunctionConfig(function_name_for(handler), handler, environment)
    return RouteConfig(key, LambdaIntegration(function, timeout), route_response)


def function_of(route: RouteConfig) -> FunctionConfig:
    assert route.function is not None, f"{route.route_key} is not a Lambda route"
    return route.function


def functions_of(*routes: RouteConfig) -> dict[str, FunctionConfig]:
    return {r.function.name: r.function for r in routes if r.function is not None}


def minimal(**top: object) -> dict[str, object]:
    """The smallest valid document, with top-level keys added or replaced."""
    return {"routes": {"$default": "app.handler"}, **top}


def with_route(value: object, key: str = "sendmessage") -> dict[str, object]:
    return {"routes": {key: value}}


def error_of(document: object) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(document)
    return caught.value


# -- the full example and the defaults ---------------------------------------------------------


def test_full_example_loads_to_the_expected_dataclasses(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(FULL_EXAMPLE, encoding="utf-8")

    loaded = load_config(path)

    routes = {
        "$connect": route("$connect", "handlers.chat.on_connect", environment=TABLE),
        "$disconnect": route("$disconnect", "handlers.chat.on_disconnect", environment=TABLE),
        "sendmessage": route("sendmessage", "handlers.chat.send_message", environment=TABLE),
        "$default": route(
            "$default",
            "handlers.chat.default",
            route_response=True,
            environment={"TABLE_NAME": "connections", "GREETING": "hello"},
        ),
    }
    assert loaded == ApiConfig(
        routes=routes,
        functions=functions_of(*routes.values()),
        route_selection_expression=compile_expression("$request.body.action"),
        stage="local",
        environment=TABLE,
        limits=Limits(),
        base_dir=tmp_path,
        source=str(path),
    )
    assert list(loaded.routes) == ["$connect", "$disconnect", "sendmessage", "$default"]
    assert isinstance(loaded.route_selection_expression, SelectionExpression)


def test_minimal_document_takes_every_default() -> None:
    parsed = parse_config({"routes": {"$default": "app.handler"}})

    assert parsed.stage == "local"
    assert parsed.environment == {}
    assert parsed.limits == Limits()
    assert parsed.base_dir == Path(".")
    assert parsed.source == "<inline>"
    assert parsed.routes == {"$default": route("$default", "app.handler")}
    assert isinstance(parsed.route_selection_expression, SelectionExpression)


def test_limit_defaults_are_aws_quotas() -> None:
    assert Limits() == Limits(
        idle_timeout=600.0,
        max_connection_duration=7200.0,
        integration_timeout=29.0,
        frame_size=32768,
        message_size=131072,
    )


def test_constants() -> None:
    assert DEFAULT_ROUTE_SELECTION_EXPRESSION == "$request.body.action"
    assert sorted(PREDEFINED_ROUTES) == ["$connect", "$default", "$disconnect"]
    assert MAX_ROUTES == 300


def test_public_names_are_pinned() -> None:
    assert set(config.__all__) == {"load_config", "parse_config", "with_credentials", "with_limits"}
    assert set(api.__all__) == {
        "API_KEY_HEADER_SELECTION",
        "API_KEY_SELECTION_EXPRESSIONS",
        "AUTHORIZATION_TYPES",
        "DEFAULT_ROUTE_SELECTION_EXPRESSION",
        "MAX_ROUTES",
        "PREDEFINED_ROUTES",
        "ApiConfig",
        "ApiKeyConfig",
        "AuthorizerConfig",
        "Limits",
        "ModelConfig",
        "RouteConfig",
        "RouteRequest",
    }


def test_parsed_values_are_read_only() -> None:
    parsed = parse_config(minimal(environment={"APP": "1"}))

    with pytest.raises(TypeError):
        parsed.routes["x"] = parsed.routes["$default"]  # type: ignore[index]
    with pytest.raises(TypeError):
        parsed.environment["B"] = "2"  # type: ignore[index]
    with pytest.raises(TypeError):
        function_of(parsed.routes["$default"]).environment["B"] = "2"  # type: ignore[index]


def test_the_model_is_pure() -> None:
    """Only the standard library's pure parts, yaml and python-hcl2 (each in one module),
    and the model itself."""
    package = Path(config.__file__).parent
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        allowed = {
            "__future__", "base64", "collections", "dataclasses", "difflib", "enum", "functools",
            "hashlib", "json", "keyword", "math", "os", "pathlib", "re", "types", "typing",
            "warnings", "emulator", "jsonpath_ng",
        }  # fmt: skip
        if path.name == "yaml_files.py":
            allowed.add("yaml")
        if path.name == "hcl.py":
            allowed |= {"hcl2", "lark"}  # python-hcl2 and its parser
        assert {name.partition(".")[0] for name in imported} <= allowed, path
        assert all(
            name.startswith(("emulator.model", "emulator.errors"))
            for name in imported
            if name.startswith("emulator")
        ), path


# -- routes: short and long forms --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("handlers.chat.send_message", route("sendmessage", "handlers.chat.send_message")),
        ("app.handler", route("sendmessage", "app.handler")),
        ({"handler": "app.handler"}, route("sendmessage", "app.handler")),
        (
            {"handler": "app.handler", "routeResponse": True},
            route("sendmessage", "app.handler", route_response=True),
        ),
        (
            {"handler": "app.handler", "routeResponse": False},
            route("sendmessage", "app.handler"),
        ),
        (
            {"handler": "app.handler", "timeout": 5},
            route("sendmessage", "app.handler", timeout=5.0),
        ),
        (
            {"handler": "app.handler", "timeout": 0.05},
            route("sendmessage", "app.handler", timeout=0.05),
        ),
        (
            {"handler": "app.handler", "environment": None},
            route("sendmessage", "app.handler"),
        ),
    ],
    ids=[
        "short-dotted-package",
        "short-module-function",
        "long-handler-only",
        "long-two-way",
        "long-one-way-explicit",
        "long-int-timeout-becomes-float",
        "long-minimum-timeout",
        "long-null-environment",
    ],
)
def test_route_forms(value: object, expected: RouteConfig) -> None:
    assert parse_config(with_route(value)).routes == {"sendmessage": expected}


@pytest.mark.parametrize(
    ("handler", "module", "function"),
    [
        ("handlers.chat.on_connect", "handlers.chat", "on_connect"),
        ("app.handler", "app", "handler"),
        ("a.b.c.d", "a.b.c", "d"),
    ],
    ids=["package", "module", "deep-package"],
)
def test_module_and_function(handler: str, module: str, function: str) -> None:
    parsed = function_of(parse_config(with_route(handler)).routes["sendmessage"])
    assert (parsed.module, parsed.attribute) == (module, function)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (minimal(), 29.0),
        (minimal(limits={"integrationTimeout": 3}), 3.0),
        (with_route({"handler": "a.b", "timeout": 2.5}), 2.5),
        (
            {**with_route({"handler": "a.b", "timeout": 7}), "limits": {"integrationTimeout": 3}},
            7.0,
        ),
    ],
    ids=["aws-default", "from-limits", "own-timeout", "own-timeout-beats-limits"],
)
def test_effective_route_timeout(document: dict[str, object], expected: float) -> None:
    (only,) = parse_config(document).routes.values()
    assert only.timeout == expected


def test_limits_accept_fractions_so_tests_can_shrink_them() -> None:
    limits = {
        "idleTimeout": 0.2,
        "maxConnectionDuration": 1,
        "integrationTimeout": 0.1,
        "frameSize": 16,
        "messageSize": 8,
    }
    assert parse_config(minimal(limits=limits)).limits == Limits(0.2, 1.0, 0.1, 16, 8)


def test_null_optional_sections_are_absent() -> None:
    parsed = parse_config(minimal(environment=None, limits=None))
    assert (parsed.environment, parsed.limits) == ({}, Limits())


@pytest.mark.parametrize(
    "stage",
    ["local", "dev", "Prod_2", "a-b", "x" * 128],
    ids=["local", "dev", "mixed", "dash", "128"],
)
def test_valid_stages(stage: str) -> None:
    assert parse_config(minimal(stage=stage)).stage == stage


# -- environment -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("top", "own", "expected"),
    [
        ({"APP": "x"}, {}, {"APP": "x"}),
        ({"PORT": 8080}, {}, {"PORT": "8080"}),
        ({"RATIO": 0.5}, {}, {"RATIO": "0.5"}),
        ({"ON": True, "OFF": False}, {}, {"ON": "true", "OFF": "false"}),
        ({"EMPTY": ""}, {}, {"EMPTY": ""}),
        (
            {"ALPHA": "top", "BRAVO": "top"},
            {"BRAVO": "route", "CHARLIE": 3},
            {"ALPHA": "top", "BRAVO": "route", "CHARLIE": "3"},
        ),
        ({}, {"ONLY": "route"}, {"ONLY": "route"}),
    ],
    ids=[
        "string",
        "int",
        "float",
        "bools-lowercase",
        "empty-string",
        "route-overrides",
        "route-only",
    ],
)
def test_environment_merging_and_stringification(
    top: dict[str, object], own: dict[str, object], expected: dict[str, str]
) -> None:
    document = {
        "environment": top,
        "routes": {"short": "a.b", "long": {"handler": "a.b", "environment": own}},
    }
    parsed = parse_config(document)

    assert function_of(parsed.routes["long"]).environment == expected
    assert function_of(parsed.routes["short"]).environment == parsed.environment
    assert parsed.environment == parse_config(minimal(environment=top)).environment
    assert set(parsed.environment) == set(top)


# -- validation: one precise error per mistake -------------------------------------------------

ROUTES_301 = {f"route{i}": "a.b" for i in range(MAX_ROUTES + 1)}

INVALID: list[tuple[str, object, str, str]] = [
    # (id, document, key path, words the problem must contain)
    ("document-list", ["routes"], "", "the document must be a mapping"),
    ("document-scalar", "routes", "", "the document must be a mapping"),
    ("document-empty", None, "", "the document is empty"),
    ("unknown-top-key", minimal(route={}), "route", "did you mean 'routes'?"),
    ("unknown-top-snake", minimal(route_selection_expression="x"), "route_selection_expression",
     "did you mean 'routeSelectionExpression'?"),
    ("unknown-top-far", minimal(plugins=[]), "plugins", "allowed keys: routes, routeSelection"),
    ("unknown-top-int", {1: "x", "routes": {"$default": "a.b"}}, "1", "unknown key"),
    ("routes-missing", {"stage": "dev"}, "routes", "is required"),
    ("routes-null", {"routes": None}, "routes", "is required"),
    ("routes-list", {"routes": ["a.b"]}, "routes", "must be a mapping of route keys to handlers"),
    ("routes-empty", {"routes": {}}, "routes", "at least one route"),
    ("routes-too-many", {"routes": ROUTES_301}, "routes", "301 routes, AWS allows at most 300"),
    ("route-key-int", {"routes": {1: "a.b"}}, "routes",
     "route keys must be non-empty strings, got 1"),
    ("route-key-empty", {"routes": {"": "a.b"}}, "routes", "non-empty strings, got ''"),
    ("route-key-null", {"routes": {None: "a.b"}}, "routes", "got None"),
    ("custom-dollar", with_route("a.b", "$custom"), "routes.$custom", "must not start with '$'"),
    ("dollar-typo", with_route("a.b", "$conect"), "routes.$conect", "did you mean '$connect'?"),
    ("dollar-case", with_route("a.b", "$Default"), "routes.$Default", "did you mean '$default'?"),
    ("route-int", with_route(42), "routes.sendmessage", "must be a handler string"),
    ("route-null", with_route(None), "routes.sendmessage",
     "or a mapping with a 'handler' key, got None"),
    ("route-list", with_route(["a.b"]), "routes.sendmessage", "got ['a.b']"),
    ("handler-no-dot", with_route("handler"), "routes.sendmessage", "'module.function'"),
    ("handler-empty", with_route(""), "routes.sendmessage", "got ''"),
    ("handler-trailing-dot", with_route("app."), "routes.sendmessage", "got 'app.'"),
    ("handler-leading-dot", with_route(".app.fn"), "routes.sendmessage", "Python identifiers"),
    ("handler-dash", with_route("my-app.fn"), "routes.sendmessage", "got 'my-app.fn'"),
    ("handler-space", with_route("app.fn "), "routes.sendmessage", "got 'app.fn '"),
    ("handler-keyword", with_route("handlers.class.fn"), "routes.sendmessage",
     "Python identifiers"),
    ("handler-slash", with_route("src/app.fn"), "routes.sendmessage", "separated by '.', not '/'"),
    ("handler-missing", with_route({"timeout": 3}), "routes.sendmessage",
     "missing the required key 'handler'"),
    ("handler-long-int", with_route({"handler": 3}), "routes.sendmessage.handler", "got 3"),
    ("handler-long-bad", with_route({"handler": "x"}), "routes.sendmessage.handler", "got 'x'"),
    ("route-unknown-key", with_route({"handler": "a.b", "route_response": True}),
     "routes.sendmessage.route_response", "did you mean 'routeResponse'?"),
    ("route-unknown-case", with_route({"handler": "a.b", "Timeout": 3}),
     "routes.sendmessage.Timeout", "did you mean 'timeout'?"),
    ("route-unknown-listed", with_route({"handler": "a.b", "integration": "x"}),
     "routes.sendmessage.integration",
     "allowed keys: handler, routeResponse, timeout, environment"),
    ("route-response-string", with_route({"handler": "a.b", "routeResponse": "true"}),
     "routes.sendmessage.routeResponse", "must be true or false, got 'true'"),
    ("route-response-int", with_route({"handler": "a.b", "routeResponse": 1}),
     "routes.sendmessage.routeResponse", "got 1"),
    ("route-response-connect", with_route({"handler": "a.b", "routeResponse": True}, "$connect"),
     "routes.$connect.routeResponse", "$connect cannot be a two-way route"),
    ("route-response-disconnect",
     with_route({"handler": "a.b", "routeResponse": True}, "$disconnect"),
     "routes.$disconnect.routeResponse", "$disconnect cannot be a two-way route"),
    ("timeout-string", with_route({"handler": "a.b", "timeout": "x"}), "routes.sendmessage.timeout",
     "must be a number of seconds from 0.05 to 29, got 'x'"),
    ("timeout-bool-yes", with_route({"handler": "a.b", "timeout": True}),
     "routes.sendmessage.timeout", "got True"),
    ("timeout-null", with_route({"handler": "a.b", "timeout": None}), "routes.sendmessage.timeout",
     "got None"),
    ("timeout-too-long", with_route({"handler": "a.b", "timeout": 30}),
     "routes.sendmessage.timeout", "from 0.05 to 29, got 30"),
    ("timeout-just-over", with_route({"handler": "a.b", "timeout": 29.001}),
     "routes.sendmessage.timeout", "got 29.001"),
    ("timeout-too-short", with_route({"handler": "a.b", "timeout": 0.04}),
     "routes.sendmessage.timeout", "got 0.04"),
    ("timeout-zero", with_route({"handler": "a.b", "timeout": 0}), "routes.sendmessage.timeout",
     "got 0"),
    ("timeout-nan", with_route({"handler": "a.b", "timeout": float("nan")}),
     "routes.sendmessage.timeout", "got nan"),
    ("route-env-list", with_route({"handler": "a.b", "environment": ["A=1"]}),
     "routes.sendmessage.environment", "must be a mapping of variable names to values"),
    ("route-env-value", with_route({"handler": "a.b", "environment": {"A": None}}),
     "routes.sendmessage.environment.A", "must be a string, number or boolean, got None"),
    ("stage-int", minimal(stage=1), "stage", "got 1"),
    ("stage-null", minimal(stage=None), "stage", "got None"),
    ("stage-empty", minimal(stage=""), "stage", "must be 1 to 128 of A-Z a-z 0-9 _ -, got ''"),
    ("stage-slash", minimal(stage="dev/v1"), "stage", "got 'dev/v1'"),
    ("stage-dot", minimal(stage="v1.0"), "stage", "got 'v1.0'"),
    ("stage-too-long", minimal(stage="x" * 129), "stage", "1 to 128"),
    ("env-list", minimal(environment=["A=1"]), "environment", "must be a mapping"),
    ("env-string", minimal(environment="A=1"), "environment", "got 'A=1'"),
    ("env-value-null", minimal(environment={"PORT": None}), "environment.PORT", "got None"),
    ("env-value-list", minimal(environment={"PORT": [1]}), "environment.PORT", "got [1]"),
    ("env-value-map", minimal(environment={"PORT": {"a": 1}}), "environment.PORT",
     "must be a string, number or boolean, or name a resource of 'resources'"),
    ("env-value-nul", minimal(environment={"PORT": "8\x000"}), "environment.PORT",
     "must not contain a NUL character"),
    ("env-value-huge-int", minimal(environment={"N": 10**5000}), "environment.N", "4300 digits"),
    ("env-name-int", minimal(environment={1: "x"}), "environment",
     "variable names must be non-empty strings without '=', got 1"),
    ("env-name-empty", minimal(environment={"": "x"}), "environment", "got ''"),
    ("env-name-equals", minimal(environment={"A=B": "x"}), "environment", "got 'A=B'"),
    # Lambda's checks when a function is configured (lambda-runtime-spec §1.2).
    ("env-name-one-letter", minimal(environment={"A": "x"}), "environment",
     "a letter then letters, digits or _ (Lambda), got 'A'"),
    ("env-name-digit-first", minimal(environment={"1ST": "x"}), "environment", "got '1ST'"),
    ("env-name-dash", minimal(environment={"MY-VAR": "x"}), "environment", "got 'MY-VAR'"),
    ("env-reserved", with_route({"handler": "a.b", "environment": {"AWS_REGION": "x"}}),
     "routes.sendmessage.environment", "Reserved keys used in this request: AWS_REGION"),
    ("env-reserved-top", minimal(environment={"AWS_ACCESS_KEY_ID": "x", "_HANDLER": "y"}),
     "environment", "reserved keys that are currently not supported for modification."
     " Reserved keys used in this request: AWS_ACCESS_KEY_ID, _HANDLER"),
    ("env-over-4kb", minimal(environment={"BIG": "x" * 4090}), "environment",
     "exceeded the 4KB limit. Measured size: 4100 bytes"),
    # Lambda's 4 KB is the whole set a function gets: the top-level variables and its own.
    ("env-over-4kb-merged", {"environment": {"BIG": "x" * 3000},
                             "routes": {"sendmessage": {"handler": "a.b",
                                                        "environment": {"MORE": "y" * 1090}}}},
     "routes.sendmessage.environment", "exceeded the 4KB limit. Measured size: 4110 bytes"),
    ("env-over-4kb-merged-function", {"environment": {"BIG": "x" * 3000},
                                      "functions": {"f": {"handler": "a.b",
                                                          "environment": {"MORE": "y" * 1090}}},
                                      "routes": {"$default": {"function": "f"}}},
     "functions.f.environment", "exceeded the 4KB limit. Measured size: 4110 bytes"),
    ("limits-list", minimal(limits=[1]), "limits", "must be a mapping, got [1]"),
    ("limits-unknown", minimal(limits={"frameSise": 1}), "limits.frameSise",
     "did you mean 'frameSize'?"),
    ("limits-snake", minimal(limits={"idle_timeout": 1}), "limits.idle_timeout",
     "did you mean 'idleTimeout'?"),
    ("idle-zero", minimal(limits={"idleTimeout": 0}), "limits.idleTimeout",
     "must be a positive number of seconds, got 0"),
    ("idle-negative", minimal(limits={"idleTimeout": -1}), "limits.idleTimeout", "got -1"),
    ("idle-bool", minimal(limits={"idleTimeout": True}), "limits.idleTimeout", "got True"),
    ("idle-infinite", minimal(limits={"idleTimeout": float("inf")}), "limits.idleTimeout",
     "got inf"),
    ("idle-huge-int", minimal(limits={"idleTimeout": 10**400}), "limits.idleTimeout",
     "positive number of seconds"),
    ("idle-unprintable-int", minimal(limits={"idleTimeout": 10**5000}), "limits.idleTimeout",
     "positive number of seconds, got <a very large int>"),
    ("duration-string", minimal(limits={"maxConnectionDuration": "2h"}),
     "limits.maxConnectionDuration", "got '2h'"),
    ("integration-too-long", minimal(limits={"integrationTimeout": 60}),
     "limits.integrationTimeout", "from 0.05 to 29, got 60"),
    ("frame-float", minimal(limits={"frameSize": 1.5}), "limits.frameSize",
     "must be a whole number of bytes >= 1, got 1.5"),
    ("frame-zero", minimal(limits={"frameSize": 0}), "limits.frameSize", "got 0"),
    ("frame-bool", minimal(limits={"frameSize": True}), "limits.frameSize", "got True"),
    ("message-string", minimal(limits={"messageSize": "128KB"}), "limits.messageSize",
     "got '128KB'"),
    ("expression-int", minimal(routeSelectionExpression=1), "routeSelectionExpression",
     "must be a string such as '$request.body.action', got 1"),
    ("long-value-shortened", minimal(stage="/" * 1000), "stage", "//...//"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("document", "key", "words"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_document(document: object, key: str, words: str) -> None:
    error = error_of(document)

    assert error.key == key
    assert words in error.problem
    assert str(error) == ": ".join(part for part in ("<inline>", key, error.problem) if part)
    assert error.problem == error.problem.rstrip(".")
    assert len(str(error)) < 300


def test_invalid_selection_expression_is_located() -> None:
    error = error_of(minimal(routeSelectionExpression="${request.body.action"))

    assert isinstance(error, SelectionExpressionError)
    assert error.key.startswith("routeSelectionExpression")
    assert str(error).startswith("<inline>: routeSelectionExpression")
    assert error.key == "routeSelectionExpression"
    assert "unterminated '${'" in error.problem
    assert isinstance(error.__cause__, SelectionExpressionError)


def test_exactly_300_routes_is_allowed() -> None:
    routes = {f"route{i}": "a.b" for i in range(MAX_ROUTES)}
    assert len(parse_config({"routes": routes}).routes) == MAX_ROUTES


def test_route_response_false_on_connect_is_harmless() -> None:
    parsed = parse_config(with_route({"handler": "a.b", "routeResponse": False}, "$connect"))
    assert parsed.routes["$connect"].route_response is False


def test_parse_config_names_its_source() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"routes": {}}, source="fixture routes")
    assert str(caught.value) == "fixture routes: routes: must define at least one route"


# -- load_config: files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("routes:\n  $default: a.b\n  bad: [unclosed\n", "invalid YAML at line 4, column 1"),
        ("routes:\n  a: b: c\n", "invalid YAML at line 2, column 7: mapping values are not"),
        ("routes:\n\t$default: a.b\n", "invalid YAML at line 2, column 1"),
        (
            "routes:\n  sendmessage: a.b\n  other: c.d\n  sendmessage: e.f\n",
            "invalid YAML at line 4, column 3: duplicate key 'sendmessage' "
            "(first defined at line 2)",
        ),
        (
            "routes:\n  $default:\n    handler: a.b\n    timeout: 3\n    timeout: 4\n",
            "line 5, column 5: duplicate key 'timeout' (first defined at line 4)",
        ),
        ("{routes: {a: b.c}, routes: {}}\n", "duplicate key 'routes'"),
        ("routes: {$default: a.b}\n---\nroutes: {}\n", "invalid YAML at line 2, column 1"),
        ("", "the document is empty"),
        ("# only a comment\n", "the document is empty"),
        ("- routes\n", "the document must be a mapping with a 'routes' key, got ['routes']"),
        ("routes:\n  $default:\n    handler: a.b\n    timeout: yes\n", "got True"),
        ("routes:\n  ? [a]\n  : b.c\n", "line 2, column 5: found unhashable key"),
    ],
    ids=[
        "unclosed-flow",
        "mapping-in-scalar",
        "tab-indent",
        "duplicate-route",
        "duplicate-route-key",
        "duplicate-in-flow",
        "two-documents",
        "empty-file",
        "comment-only",
        "top-level-list",
        "yaml-yes-is-not-a-number",
        "unhashable-key",
    ],
)
def test_load_config_errors_name_the_file(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value).startswith(f"{path}: ")
    assert words in str(caught.value)


def test_overriding_a_merged_key_is_not_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(
        "routes:\n  one: &base {handler: a.b, timeout: 3}\n  two: {<<: *base, timeout: 5}\n",
        encoding="utf-8",
    )
    routes = load_config(path).routes
    assert (routes["one"].timeout, routes["two"].timeout) == (3.0, 5.0)


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("missing.yaml", None, "missing.yaml: file not found"),
        ("", None, "cannot read the file (is a directory)"),
        ("latin1.yaml", b"routes: {$default: caf\xe9.fn}\n", "is not UTF-8 or UTF-16 text: "),
    ],
    ids=["missing-file", "directory", "not-utf8"],
)
def test_unreadable_files(tmp_path: Path, name: str, content: bytes | None, words: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value).startswith(str(path))
    assert words in str(caught.value)


def test_load_config_resolves_handlers_next_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "routes.yaml").write_text("routes: {$default: a.b}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    loaded = load_config("api/routes.yaml")

    assert loaded.base_dir == tmp_path / "api"
    assert loaded.base_dir.is_absolute()
    assert loaded.source == "api/routes.yaml"


# -- anything YAML can hold: an ApiConfig or a ConfigError, never another exception ------------

KNOWN_KEYS = [
    "routes", "routeSelectionExpression", "stage", "environment", "limits", "handler",
    "routeResponse", "timeout", "idleTimeout", "maxConnectionDuration", "integrationTimeout",
    "frameSize", "messageSize", "$connect", "$disconnect", "$default", "sendmessage",
]  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["a.b", "x.class", "src/a.b", "$request.body.action", "${request.body.a"])
)
KEYS = st.sampled_from(KNOWN_KEYS) | st.text(max_size=10) | st.integers() | st.none()
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=30,
)


def near(good: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """Mostly a valid value (from ``good``), sometimes anything at all."""
    return st.sampled_from([good] * 5 + [DOCUMENTS]).flatmap(lambda chosen: chosen)


HANDLERS = st.sampled_from(["a.b", "handlers.chat.fn"])
SECONDS = st.floats(0.05, 29) | st.integers(1, 29)
VALUES = st.text(max_size=5) | st.integers() | st.floats() | st.booleans()
ENVIRONMENTS = st.dictionaries(
    st.sampled_from(["ALPHA", "BRAVO", "CHARLIE"]), near(VALUES), max_size=3
)
ROUTES = st.dictionaries(
    st.sampled_from(KNOWN_KEYS[-4:]) | st.sampled_from(["ping", "$x"]),
    near(
        HANDLERS
        | st.fixed_dictionaries(
            {"handler": near(HANDLERS)},
            optional={
                "routeResponse": near(st.booleans()),
                "timeout": near(SECONDS),
                "environment": near(ENVIRONMENTS),
            },
        )
    ),
    min_size=1,
    max_size=4,
)
NEAR_VALID = st.fixed_dictionaries(
    {"routes": near(ROUTES)},
    optional={
        "stage": near(st.sampled_from(["dev", "local", "Prod_1"])),
        "routeSelectionExpression": near(st.text(max_size=30)),
        "environment": near(ENVIRONMENTS),
        "limits": near(
            st.fixed_dictionaries({}, optional={name: near(SECONDS) for name in KNOWN_KEYS[8:13]})
        ),
    },
)


@settings(max_examples=500, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=DOCUMENTS | NEAR_VALID)
def test_any_document_gives_a_config_or_a_config_error(document: object) -> None:
    outcome = parse_or_error(document)

    if isinstance(outcome, ConfigError):
        assert str(outcome).startswith("<inline>: ")
    else:
        assert all(isinstance(value, RouteConfig) for value in outcome.routes.values())


def parse_or_error(document: object) -> ApiConfig | ConfigError:
    """The config, or the ConfigError; any other exception propagates and fails the test."""
    try:
        return parse_config(document)
    except ConfigError as error:
        return error
