"""Importing what surrounds a route in a CloudFormation/SAM template (spec §A.10).

A pure module used by :mod:`.cloudformation`: non-Lambda integrations
(``HTTP_PROXY``, ``HTTP``, ``AWS``, ``MOCK``) with their
``AWS::ApiGatewayV2::IntegrationResponse`` resources, a route's request
settings (``ModelSelectionExpression``, ``RequestModels``,
``RequestParameters``, ``ApiKeyRequired``), the API's
``AWS::ApiGatewayV2::Model`` resources, its ``ApiKeySelectionExpression``, the
stage's ``StageVariables`` and the API keys of the usage plans that list it
(``AWS::ApiGateway::ApiKey``, ``UsagePlan``, ``UsagePlanKey``). Each becomes
the routes.yaml value it stands for, validated later like a routes.yaml.

A resource an integration names by reference (``${Queue.QueueName}``,
``!Ref Stream``) has no physical name before deployment: it is written as the
name its properties give it, else its logical id, with a warning, so that the
template works against a local endpoint holding a resource of that name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator.errors import ConfigError
from emulator.model.bounds import parse_json
from emulator.model.templates.functions import Template
from emulator.model.templates.intrinsics import Reference, has_references, substitute_references
from emulator.model.templates.model import MILLIS_PROBLEM, wait_seconds

__all__ = ["NON_PROXY_TYPES", "IntegrationImporter"]

NON_PROXY_TYPES = ("HTTP_PROXY", "HTTP", "AWS", "MOCK")
# The property holding a resource's name, by type, for local stand-in names.
_NAME_PROPERTIES = {
    "AWS::SQS::Queue": "QueueName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::SNS::Topic": "TopicName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Events::EventBus": "Name",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
}


class IntegrationImporter:
    """Reads the integration-related resources of one WebSocket API."""

    def __init__(self, template: Template, api: str) -> None:
        self.t = template
        self.api = api
        self.models_used: set[str] = set()

    def _of_api(self, kind: str) -> list[str]:
        return [
            logical_id
            for logical_id in self.t.of_type(kind)
            if self.t.refers_to(self.t.prop(logical_id, "ApiId", references_ok=True), self.api)
        ]

    # Integrations

    def integration(self, integration: str, kind: str) -> dict[str, object] | str:
        """The routes.yaml ``integration:`` mapping, or why it cannot be served."""
        t = self.t
        where = f"Resources.{integration}.Properties"
        if (t.prop(integration, "PayloadFormatVersion") or "1.0") != "1.0":
            # AWS rejects 2.0 for WebSocket integrations (spec §A.3).
            raise t.error("must be 1.0 for a WebSocket API", integration, "PayloadFormatVersion")
        document: dict[str, object] = {"type": kind}
        if kind != "MOCK":
            uri = t.prop(integration, "IntegrationUri", references_ok=True)
            if uri is None:
                raise t.error("is required", integration, "IntegrationUri")
            if kind != "AWS" and has_references(uri):
                return f"integration {integration}'s IntegrationUri is only known once deployed"
            document["uri"] = self._local(uri, f"{where}.IntegrationUri")
            document["method"] = (t.prop(integration, "IntegrationMethod") or "POST").upper()
        for name, key in (
            ("RequestParameters", "requestParameters"),
            ("RequestTemplates", "requestTemplates"),
        ):
            strings = self._strings(t.raw(integration, name), f"{where}.{name}")
            if strings:
                document[key] = strings
        for name, key in (
            ("TemplateSelectionExpression", "templateSelectionExpression"),
            ("PassthroughBehavior", "passthroughBehavior"),
            ("ContentHandlingStrategy", "contentHandlingStrategy"),
        ):
            value = t.prop(integration, name)
            if value is not None:
                document[key] = value
        millis = t.resolve(t.raw(integration, "TimeoutInMillis"), f"{where}.TimeoutInMillis")
        if millis is not None:
            seconds = wait_seconds(millis)
            if seconds is None:
                problem = f"{MILLIS_PROBLEM}, got {millis!r}"
                raise ConfigError(problem, key=f"{where}.TimeoutInMillis", source=t.source)
            document["timeout"] = seconds
        responses = self._responses(integration)
        if responses:
            document["responses"] = responses
        return document

    def _responses(self, integration: str) -> list[dict[str, object]]:
        t = self.t
        responses = []
        for response in self._of_api("AWS::ApiGatewayV2::IntegrationResponse"):
            target = t.prop(response, "IntegrationId", references_ok=True) or ""
            if t.referenced(target, "AWS::ApiGatewayV2::Integration") != integration:
                continue
            where = f"Resources.{response}.Properties"
            key = t.prop(response, "IntegrationResponseKey")
            if key is None:
                raise t.error("is required", response, "IntegrationResponseKey")
            entry: dict[str, object] = {"key": key}
            expression = t.prop(response, "TemplateSelectionExpression")
            if expression is not None:
                entry["templateSelectionExpression"] = expression
            templates = self._strings(
                t.raw(response, "ResponseTemplates"), f"{where}.ResponseTemplates"
            )
            if templates:
                entry["responseTemplates"] = templates
            handling = t.prop(response, "ContentHandlingStrategy")
            if handling is not None:
                entry["contentHandlingStrategy"] = handling
            responses.append(entry)
        return responses

    # Routes

    def route_request(
        self, raw: Mapping[str, Any], route_key: str, location: str, where: str
    ) -> dict[str, object]:
        """A route's routes.yaml request settings, from its properties (at ``where``)."""
        t = self.t
        settings: dict[str, object] = {}
        expression = t.text(
            raw.get("ModelSelectionExpression"), f"{where}.ModelSelectionExpression"
        )
        if expression is not None:
            settings["modelSelectionExpression"] = expression
        models = self._strings(raw.get("RequestModels"), f"{where}.RequestModels")
        if models:
            settings["requestModels"] = models
            self.models_used.update(models.values())
        parameters = t.resolve(raw.get("RequestParameters"), f"{where}.RequestParameters")
        if isinstance(parameters, Mapping) and parameters:
            settings["requestParameters"] = {
                str(name): {"required": _truthy(spec.get("Required"))}
                if isinstance(spec, Mapping)
                else {"required": _truthy(spec)}
                for name, spec in parameters.items()
            }
        if _truthy(t.resolve(raw.get("ApiKeyRequired"), f"{where}.ApiKeyRequired")):
            if route_key == "$connect":
                settings["apiKeyRequired"] = True
            else:
                # AWS checks the key when a client connects, on $connect only.
                t.warnings.append(
                    f"{location}: ApiKeyRequired is not emulated; requests without a key are served"
                )
        return settings

    # What applies to the whole API

    def top(self, stage: str | None) -> dict[str, object]:
        """The top-level routes.yaml keys: models, API keys, stage variables."""
        top: dict[str, object] = {}
        models = self._models()
        if models:
            top["models"] = models
        expression = self.t.prop(self.api, "ApiKeySelectionExpression")
        if expression is not None:
            top["apiKeySelectionExpression"] = expression
        keys = self._api_keys()
        if keys:
            top["apiKeys"] = keys
        stages = self._of_api("AWS::ApiGatewayV2::Stage")
        if stages:
            key = f"Resources.{stages[0]}.Properties.StageVariables"
            variables = self._strings(self.t.raw(stages[0], "StageVariables"), key)
            if variables:
                top["stageVariables"] = variables
        return top

    def _models(self) -> dict[str, object]:
        t = self.t
        models: dict[str, object] = {}
        for model in self._of_api("AWS::ApiGatewayV2::Model"):
            name = t.prop(model, "Name") or model
            schema = t.resolve(t.raw(model, "Schema"), f"Resources.{model}.Properties.Schema")
            if isinstance(schema, str):
                try:
                    schema = parse_json(schema)
                except ValueError as exc:
                    raise t.error(f"is not valid JSON: {exc}", model, "Schema") from exc
            entry: dict[str, object] = {"schema": schema}
            content_type = t.prop(model, "ContentType")
            if content_type is not None:
                entry["contentType"] = content_type
            models[name] = entry
        return models

    def _api_keys(self) -> list[dict[str, object]]:
        t = self.t
        plans: dict[str, list[str]] = {}
        for plan in t.of_type("AWS::ApiGateway::UsagePlan"):
            where = f"Resources.{plan}.Properties.ApiStages"
            stages = t.resolve(t.raw(plan, "ApiStages"), where) or []
            for stage in stages if isinstance(stages, list) else []:
                if isinstance(stage, Mapping) and t.refers_to(str(stage.get("ApiId")), self.api):
                    plans.setdefault(plan, []).append(str(stage.get("Stage", "")))
        keys: list[dict[str, object]] = []
        for plan_key in t.of_type("AWS::ApiGateway::UsagePlanKey"):
            plan_id = t.prop(plan_key, "UsagePlanId", references_ok=True) or ""
            key_id = t.prop(plan_key, "KeyId", references_ok=True) or ""
            owner = t.referenced(plan_id, "AWS::ApiGateway::UsagePlan")
            key = t.referenced(key_id, "AWS::ApiGateway::ApiKey")
            if owner is None or owner not in plans or key is None:
                continue
            value = t.prop(key, "Value")
            if value is None:
                t.warnings.append(
                    f"Resources.{key}: the key's Value is generated once deployed;"
                    " give it a Value to connect locally"
                )
                continue
            stages = [s for s in plans[owner] if s and not has_references(s)]
            entry: dict[str, object] = {
                "id": key,
                "value": value,
                # CloudFormation: an ApiKey is disabled unless Enabled is true.
                "enabled": _truthy(
                    t.resolve(t.raw(key, "Enabled"), f"Resources.{key}.Properties.Enabled")
                ),
            }
            name = t.prop(key, "Name")
            if name is not None:
                entry["name"] = name
            if stages:
                entry["stages"] = stages
            keys.append(entry)
        return keys

    # Values

    def _strings(self, raw: Any, key: str) -> dict[str, str]:
        value = self.t.resolve(raw, key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"must be a mapping, got {value!r}", key=key, source=self.t.source)
        strings = {}
        for name, item in value.items():
            if isinstance(item, bool):
                item = "true" if item else "false"
            elif isinstance(item, int | float):
                item = str(item)
            if not isinstance(item, str):
                problem = f"must be a string, got {item!r}"
                raise ConfigError(problem, key=f"{key}.{name}", source=self.t.source)
            strings[str(name)] = self._local(item, f"{key}.{name}")
        return strings

    def _local(self, value: str, key: str) -> str:
        """``value`` with each resource reference replaced by a local stand-in name."""
        if not has_references(value):
            return value

        def name_of(reference: Reference) -> str:
            kind = self.t.type_of(reference.logical_id)
            prop = _NAME_PROPERTIES.get(kind or "")
            if prop is not None:
                name = self.t.prop(reference.logical_id, prop, references_ok=True)
                if name is not None and not has_references(name):
                    return name
            self.t.warnings.append(
                f"{key}: {reference} is only known once deployed;"
                f" {reference.logical_id!r} stands for it locally"
            )
            return reference.logical_id

        return substitute_references(value, name_of)


def _truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")
