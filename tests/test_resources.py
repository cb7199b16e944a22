"""The resources an API declares: routes.yaml's ``resources:``, templates', the calls
that create them. Pure: no server, no moto."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator.errors import ConfigError
from emulator.model.config import load_config, parse_config
from emulator.model.resources import AwsResource, ResourceType, resolve_variables
from emulator.model.templates import load_template
from emulator.runtime.aws_requests import Call, creation
from emulator.tools.state_format import format_state

APPS = Path(__file__).parent / "fixtures" / "apps"
TABLE = {
    "Type": "AWS::DynamoDB::Table",
    "Properties": {
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    },
}


def config_with(resources: object, **top: Any) -> Any:
    return parse_config({"resources": resources, "routes": {"$default": "app.h"}, **top})


def error_of(resources: object, **top: Any) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        config_with(resources, **top)
    return raised.value


# routes.yaml


@pytest.mark.parametrize(
    ("resources", "names"),
    [
        ({"Connections": TABLE}, {"Connections": "Connections"}),
        (
            {"T": {**TABLE, "Properties": {**TABLE["Properties"], "TableName": "conns"}}},
            {"T": "conns"},
        ),
        ({"Jobs": {"Type": "AWS::SQS::Queue"}}, {"Jobs": "Jobs"}),
        (
            {"Jobs": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True}}},
            {"Jobs": "Jobs.fifo"},
        ),
        ({"Alerts": {"Type": "AWS::SNS::Topic"}}, {"Alerts": "Alerts"}),
        ({"Uploads": {"Type": "AWS::S3::Bucket"}}, {"Uploads": "uploads"}),
        ({"Simple": {"Type": "AWS::Serverless::SimpleTable"}}, {"Simple": "Simple"}),
    ],
    ids=["table", "named-table", "queue", "fifo-queue", "topic", "bucket-lower-case", "simple"],
)
def test_each_resource_has_the_name_its_functions_find_it_by(
    resources: dict[str, Any], names: dict[str, str]
) -> None:
    config = config_with(resources)
    assert {key: r.name for key, r in config.resources.items()} == names


BAD = [
    ("not-a-mapping", ["T"], "resources", "must be a mapping of logical ids"),
    ("bad-id", {"my-table": TABLE}, "resources", "logical ids are 1 to 255 of A-Z a-z 0-9"),
    ("unknown-type", {"T": {"Type": "AWS::DynamoDB::Tabel"}}, "resources.T.Type",
     "did you mean 'AWS::DynamoDB::Table'?"),
    ("unknown-key", {"T": {**TABLE, "Propertes": {}}}, "resources.T.Propertes",
     "did you mean 'Properties'?"),
    ("no-key-schema", {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}}},
     "resources.T.Properties.KeySchema", "is required: a HASH key"),
    ("undefined-key", {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST"}}},
     "resources.T.Properties.KeySchema[0].AttributeName", "'pk' has no AttributeDefinitions"),
    ("provisioned-without-throughput", {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {
        **{k: v for k, v in TABLE["Properties"].items() if k != "BillingMode"}}}},
     "resources.T.Properties.ProvisionedThroughput", "is required with BillingMode PROVISIONED"),
    ("bad-bucket-name", {"B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "A_B"}}},
     "resources.B.Properties.BucketName", "the name must be a valid name: 3 to 63 of a-z"),
    ("bad-simple-key", {"S": {"Type": "AWS::Serverless::SimpleTable",
                              "Properties": {"PrimaryKey": {"Name": "id", "Type": "Text"}}}},
     "resources.S.Properties.PrimaryKey", "a Type String, Number or Binary"),
    ("foreign-reference", {"Q": {"Type": "AWS::SQS::Queue", "Properties": {
        "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Nope", "Arn"]}}}}},
     "resources.Q.Properties.RedrivePolicy.deadLetterTargetArn",
     "only !Ref and !GetAtt naming a resource of 'resources'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("resources", "key", "words"), [case[1:] for case in BAD], ids=[case[0] for case in BAD]
)
def test_what_cloudformation_would_refuse_is_refused_where_it_is(
    resources: object, key: str, words: str
) -> None:
    error = error_of(resources)
    assert (error.key, words in error.problem) == (key, True), error.problem


def test_variables_name_resources_by_ref_and_getatt(tmp_path: Path) -> None:
    (tmp_path / "routes.yaml").write_text(
        "resources:\n"
        "  Connections: {Type: AWS::Serverless::SimpleTable}\n"
        "  Jobs: {Type: AWS::SQS::Queue}\n"
        "  Dead: {Type: AWS::SQS::Queue}\n"
        "  Work:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn}}\n"
        "environment:\n"
        "  TABLE_NAME: !Ref Connections\n"
        "routes:\n"
        "  $default:\n"
        "    handler: app.h\n"
        "    environment: {QUEUE_URL: !Ref Jobs, QUEUE_ARN: !GetAtt Jobs.Arn}\n",
        encoding="utf-8",
    )
    config = load_config(tmp_path / "routes.yaml")
    function = config.routes["$default"].function
    assert function is not None
    resolved = resolve_variables(function.environment, config.resources, "eu-west-1")
    assert resolved == {
        "TABLE_NAME": "Connections",
        "QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/000000000000/Jobs",
        "QUEUE_ARN": "arn:aws:sqs:eu-west-1:000000000000:Jobs",
    }
    # Nothing creates them: the variables are not set.
    assert resolve_variables(function.environment, None, "eu-west-1") == {}
    work = config.resources["Work"].resolved_properties(config.resources, "eu-west-1")
    assert work == {
        "RedrivePolicy": {"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:000000000000:Dead"}
    }


@pytest.mark.parametrize(
    ("environment", "key", "words"),
    [
        ({"TT": {"Ref": "Nope"}}, "environment.TT", "Ref Nope names no resource"),
        ({"TT": {"Ref": "Conections"}}, "environment.TT", "did you mean 'Connections'?"),
        ({"TT": {"Fn::GetAtt": ["Connections", "Url"]}}, "environment.TT",
         "has no attribute 'Url' known locally (attributes: Arn)"),
        ({"TT": {"Fn::Sub": "${Connections}"}}, "environment.TT",
         "(!Ref LogicalId or !GetAtt LogicalId.Attribute)"),
    ],
    ids=["unknown", "near-miss", "attribute", "sub"],
)  # fmt: skip
def test_a_variable_that_names_no_resource_is_refused(
    environment: dict[str, Any], key: str, words: str
) -> None:
    error = error_of({"Connections": TABLE}, environment=environment)
    assert (error.key, words in error.problem) == (key, True), error.problem


def test_routes_yaml_reads_only_two_tags(tmp_path: Path) -> None:
    (tmp_path / "routes.yaml").write_text("routes: {$default: !Sub app.h}\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"unknown tag '!Sub' \(routes.yaml reads !Ref and !GetAtt"
    ):
        load_config(tmp_path / "routes.yaml")


def test_mock_aws_is_a_flag() -> None:
    assert config_with({}, mockAws=True).mock_aws is True
    assert error_of({}, mockAws="yes").key == "mockAws"


# Templates


def test_a_sam_template_declares_its_tables_and_queues() -> None:
    imported = load_template(APPS / "archive_chat" / "template.yaml", environ={})
    resources = imported.config.resources
    assert [(r.logical_id, r.type, r.name) for r in resources.values()] == [
        ("ConnectionsTable", ResourceType.TABLE, "local-connections"),
        ("ArchiveQueue", ResourceType.QUEUE, "ArchiveQueue"),
    ]
    table = resources["ConnectionsTable"].properties
    assert table["TableName"] == "local-connections"  # !Sub "${AWS::StackName}-connections"
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["byRoom"]
    function = imported.config.routes["sendmessage"].function
    assert function is not None
    assert dict(function.environment) == {
        "TABLE_NAME": "local-connections",
        "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/ArchiveQueue",
    }
    assert imported.warnings == ()


def test_a_serverless_yml_declares_its_resources() -> None:
    imported = load_template(APPS / "archive_chat" / "serverless.yml", environ={})
    resources = imported.config.resources
    assert {key: r.name for key, r in resources.items()} == {
        "ConnectionsTable": "archive-chat-dev-connections",
        "ArchiveQueue": "archive-chat-dev-archive",
    }
    assert dict(imported.config.environment) == {
        "TABLE_NAME": "archive-chat-dev-connections",
        "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/archive-chat-dev-archive",
    }


def test_a_simple_table_and_a_parameter_named_table() -> None:
    powertools = load_template(APPS / "powertools_chat" / "template.yaml", environ={})
    (table,) = powertools.config.resources.values()
    assert (table.type, table.name) == (ResourceType.SIMPLE_TABLE, "ConnectionsTable")
    assert powertools.config.environment["CONNECTIONS_TABLE"] == "ConnectionsTable"
    simple = load_template(
        APPS / "simple_chat" / "template.yaml", parameters={"TableName": "other"}, environ={}
    )
    assert simple.config.resources["ConnectionsTable"].name == "other"


def test_a_property_only_known_once_deployed_is_left_out(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def h(event, context):\n    pass\n", encoding="utf-8")
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Api: {Type: AWS::Serverless::WebSocketApi, Properties: {RouteSelectionExpression:"
        " $request.body.action, Routes: {$default: {FunctionArn: !GetAtt Fn.Arn}}}}\n"
        "  Fn: {Type: AWS::Serverless::Function, Properties: {Handler: app.h, Runtime:"
        " python3.12}}\n"
        "  Key: {Type: AWS::KMS::Key}\n"
        "  Jobs:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties: {KmsMasterKeyId: !GetAtt Key.Arn, VisibilityTimeout: 60}\n",
        encoding="utf-8",
    )
    imported = load_template(tmp_path / "template.yaml", environ={})
    assert dict(imported.config.resources["Jobs"].properties) == {
        "VisibilityTimeout": 60,
        "QueueName": "Jobs",
    }
    assert imported.warnings == (
        "Resources.Jobs.Properties.KmsMasterKeyId: '${Key.Arn}' is only known once deployed;"
        " left out",
    )


# The calls that create them


def resource(kind: ResourceType, name: str, **properties: Any) -> AwsResource:
    return AwsResource(name, kind, name, properties)


@pytest.mark.parametrize(
    ("item", "region", "calls"),
    [
        (
            resource(ResourceType.SIMPLE_TABLE, "S"),
            "us-east-1",
            [Call("dynamodb", "create_table", {
                "TableName": "S",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST"})],
        ),
        (
            resource(ResourceType.TABLE, "T", **TABLE["Properties"],
                     TimeToLiveSpecification={"AttributeName": "ttl", "Enabled": True},
                     StreamSpecification={"StreamViewType": "NEW_IMAGE"}),
            "us-east-1",
            [Call("dynamodb", "create_table", {
                "TableName": "T", **TABLE["Properties"],
                "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}}),
             Call("dynamodb", "update_time_to_live", {
                 "TableName": "T",
                 "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "ttl"}})],
        ),
        (
            resource(ResourceType.QUEUE, "Q", VisibilityTimeout=60, FifoQueue=False,
                     RedrivePolicy={"maxReceiveCount": 3}, Tags=[{"Key": "k", "Value": "v"}]),
            "us-east-1",
            [Call("sqs", "create_queue", {"QueueName": "Q", "Attributes": {
                "VisibilityTimeout": "60", "FifoQueue": "false",
                "RedrivePolicy": '{"maxReceiveCount": 3}'}, "tags": {"k": "v"}})],
        ),
        (
            resource(ResourceType.TOPIC, "N", Subscription=[{"Protocol": "sqs",
                                                             "Endpoint": "arn:q"}]),
            "eu-west-1",
            [Call("sns", "create_topic", {"Name": "N"}),
             Call("sns", "subscribe", {"TopicArn": "arn:aws:sns:eu-west-1:000000000000:N",
                                       "Protocol": "sqs", "Endpoint": "arn:q"})],
        ),
        (
            resource(ResourceType.BUCKET, "b-1", VersioningConfiguration={"Status": "Enabled"}),
            "eu-west-1",
            [Call("s3", "create_bucket", {"Bucket": "b-1", "CreateBucketConfiguration": {
                "LocationConstraint": "eu-west-1"}}),
             Call("s3", "put_bucket_versioning", {
                 "Bucket": "b-1", "VersioningConfiguration": {"Status": "Enabled"}})],
        ),
    ],
    ids=["simple-table", "table-ttl-stream", "queue-attributes", "topic-subscription", "bucket"],
)  # fmt: skip
def test_the_calls_that_create_each_resource(
    item: AwsResource, region: str, calls: list[Call]
) -> None:
    plan = creation(item, item.properties, region)
    assert list(plan.calls) == calls
    assert plan.exists is not None


def test_the_state_as_text() -> None:
    view = {
        "tables": [
            {"region": "us-east-1", "name": "conns", "key": ["connectionId"], "count": 3,
             "items": [{"connectionId": "a", "n": 1}, {"connectionId": "b"}]},
        ],
        "queues": [{"region": "us-east-1", "name": "jobs", "messages": ["one"]}],
        "topics": [{"region": "us-east-1", "name": "alerts"}],
        "buckets": [{"name": "uploads", "objects": [{"key": "a.txt", "size": 1}]}],
    }  # fmt: skip
    assert format_state(view) == (
        "dynamodb table conns (us-east-1), key connectionId: 3 items\n"
        '  {"connectionId": "a", "n": 1}\n'
        '  {"connectionId": "b"}\n'
        "  ... 1 more (--limit shows more)\n"
        "sqs queue jobs (us-east-1): 1 message\n"
        "  one\n"
        "sns topic alerts (us-east-1)\n"
        "s3 bucket uploads: 1 object\n"
        "  a.txt (1 byte)\n"
    )
    assert format_state({}) == "no tables, queues, topics or buckets\n"
