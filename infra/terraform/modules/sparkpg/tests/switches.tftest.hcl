# Optional resources appear and disappear with their switches (mocked provider, offline).

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", reverse_dns_prefix = "com.amazonaws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_vpc" {
    defaults = { enable_dns_support = true, enable_dns_hostnames = true }
  }
  mock_data "aws_subnet" {
    defaults = { availability_zone = "eu-west-1a" }
  }
}

variables {
  vpc_id                     = "vpc-0123456789abcdef0"
  subnet_ids                 = ["subnet-0aaaaaaaaaaaaaaa1"]
  database_security_group_id = "sg-0dddddddddddddddd"
  jdbc_jar_source            = "tests/fixtures/postgresql-test.jar"
  connection                 = { host = "db.example.internal" }
  postgres_username          = "spark"
  postgres_password          = "not-a-real-password"
}

run "endpoints_off_s3_gateway_on" {
  command = plan

  variables {
    create_logs_endpoint           = false
    create_secretsmanager_endpoint = false
    create_s3_endpoint             = true
    s3_route_table_ids             = ["rtb-0aaaaaaaaaaaaaaa1"]
  }

  assert {
    condition     = length(aws_vpc_endpoint.logs) == 0 && length(aws_vpc_endpoint.secretsmanager) == 0
    error_message = "interface endpoints must disappear when switched off"
  }
  assert {
    condition = (
      aws_vpc_endpoint.s3[0].vpc_endpoint_type == "Gateway"
      && aws_vpc_endpoint.s3[0].service_name == "com.amazonaws.eu-west-1.s3"
      && toset(aws_vpc_endpoint.s3[0].route_table_ids) == toset(["rtb-0aaaaaaaaaaaaaaa1"])
    )
    error_message = "the S3 gateway endpoint goes on the given route tables"
  }
}

run "existing_role_secret_bucket_and_security_group" {
  command = plan

  variables {
    create_execution_role        = false
    execution_role_arn           = "arn:aws:iam::111122223333:role/service-role/EMRServerlessExecutionRole"
    create_secret                = false
    secret_arn                   = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds!cluster-0123-AbCdEf"
    postgres_username            = null
    postgres_password            = null
    create_bucket                = false
    bucket_name                  = "existing-artifacts"
    create_security_group        = false
    security_group_id            = "sg-0eeeeeeeeeeeeeeee"
    create_security_group_rules  = false
    create_database_ingress_rule = false
    create_log_group             = false
  }

  assert {
    condition     = length(aws_iam_role.execution) == 0 && output.execution_role_arn == var.execution_role_arn
    error_message = "an existing role is used, not created"
  }
  assert {
    condition = alltrue([for p in [aws_iam_role_policy.secrets[0], aws_iam_role_policy.s3[0], aws_iam_role_policy.logs[0]] :
    p.role == "EMRServerlessExecutionRole"])
    error_message = "the inline policies go on the existing role (its name taken from the ARN, path dropped)"
  }
  assert {
    condition = jsondecode(aws_iam_role_policy.secrets[0].policy).Statement[0].Resource == [
      "arn:aws:secretsmanager:eu-west-1:111122223333:secret:spark/postgres/*",
      "arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds!cluster-0123-AbCdEf",
    ]
    error_message = "the role may read the given secret (outside the prefix) as well as the prefix"
  }
  assert {
    condition     = length(aws_secretsmanager_secret.postgres) == 0 && length(aws_secretsmanager_secret_version.postgres) == 0
    error_message = "no secret is created when one is given"
  }
  assert {
    condition     = output.settings.postgres.connections[0].secret_arn == var.secret_arn
    error_message = "settings.json names the given secret"
  }
  assert {
    condition = (
      length(aws_s3_bucket.artifacts) == 0 && length(aws_s3_bucket_policy.artifacts) == 0
      && aws_s3_object.jdbc_jar.bucket == "existing-artifacts"
      && output.jdbc_driver_s3_uri == "s3://existing-artifacts/jars/postgresql-test.jar"
    )
    error_message = "the JAR goes to the existing bucket, which is not created"
  }
  assert {
    condition = (
      length(aws_security_group.emr) == 0 && length(aws_vpc_security_group_ingress_rule.emr_self) == 0
      && length(aws_vpc_security_group_egress_rule.emr_all) == 0 && length(aws_vpc_security_group_ingress_rule.database_from_emr) == 0
      && toset(aws_emrserverless_application.postgres.network_configuration[0].security_group_ids) == toset(["sg-0eeeeeeeeeeeeeeee"])
    )
    error_message = "an existing security group is used as it is"
  }
  assert {
    condition = (
      length(aws_cloudwatch_log_group.jobs) == 0
      && contains([for s in jsondecode(aws_iam_role_policy.logs[0].policy).Statement : s.Action if s.Sid == "WriteJobLogs"][0], "logs:CreateLogGroup")
    )
    error_message = "without the module's log group the role may create it"
  }
}

run "policies_off_for_an_existing_role" {
  command = plan

  variables {
    create_execution_role          = false
    execution_role_arn             = "arn:aws:iam::111122223333:role/EMRServerlessExecutionRole"
    manage_execution_role_policies = false
  }

  assert {
    condition     = length(aws_iam_role_policy.secrets) + length(aws_iam_role_policy.s3) + length(aws_iam_role_policy.logs) == 0
    error_message = "manage_execution_role_policies = false leaves the role's policies alone"
  }
}

run "plain_application_on" {
  command = apply

  variables {
    create_plain_application = true
    supervisor_arn           = "arn:aws:bedrock-agentcore:eu-west-1:111122223333:runtime/supervisor-x"
    architecture             = "ARM64"
  }

  assert {
    condition = (
      aws_emrserverless_application.plain[0].release_label == "emr-7.0.0"
      && aws_emrserverless_application.plain[0].architecture == "ARM64"
      && length(aws_emrserverless_application.plain[0].initial_capacity) == 0
      && length(aws_emrserverless_application.plain[0].network_configuration) == 0
    )
    error_message = "the plain application has no pre-initialised capacity and no VPC"
  }
  assert {
    condition = {
      for k, v in jsondecode(output.settings_json).spark : k => v
      if contains(["emr_application_id", "emr_postgres_application_id", "supervisor_arn"], k)
      } == {
      emr_application_id          = aws_emrserverless_application.plain[0].id
      emr_postgres_application_id = aws_emrserverless_application.postgres.id
      supervisor_arn              = "arn:aws:bedrock-agentcore:eu-west-1:111122223333:runtime/supervisor-x"
    }
    error_message = "settings.spark names the plain and the PostgreSQL application"
  }
}

run "existing_plain_application_and_no_auto_stop" {
  command = plan

  variables {
    emr_application_id             = "00fexistingapp01"
    auto_stop_idle_timeout_minutes = null
    initial_capacity               = {}
  }

  assert {
    condition     = output.emr_application_id == "00fexistingapp01"
    error_message = "a given plain application id goes to settings"
  }
  assert {
    condition = (
      aws_emrserverless_application.postgres.auto_stop_configuration[0].enabled == false
      && length(aws_emrserverless_application.postgres.initial_capacity) == 0
    )
    error_message = "auto-stop and pre-initialised capacity can be switched off"
  }
}

run "kms_keys" {
  command = plan

  variables {
    secret_kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555"
    bucket_kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/66666666-7777-8888-9999-000000000000"
  }

  assert {
    condition = one([for s in jsondecode(aws_iam_role_policy.secrets[0].policy).Statement : s if s.Sid == "DecryptSecretsThroughSecretsManager"]) == {
      Sid       = "DecryptSecretsThroughSecretsManager"
      Effect    = "Allow"
      Action    = ["kms:Decrypt"]
      Resource  = [var.secret_kms_key_arn]
      Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.eu-west-1.amazonaws.com" } }
    }
    error_message = "with a customer managed key the role may decrypt through Secrets Manager only"
  }
  assert {
    condition = (
      aws_secretsmanager_secret.postgres[0].kms_key_id == var.secret_kms_key_arn
      && one(aws_s3_bucket_server_side_encryption_configuration.artifacts[0].rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms"
    )
    error_message = "the secret and the bucket use the given keys"
  }
}

# The infrastructure note's VPC already has private-DNS endpoints for Logs and Secrets Manager, and
# AWS refuses a second one: given by id, they are read, not created, and their security group gets
# HTTPS from the EMR security group (a rule of the module's own).
run "existing_endpoints_are_reused" {
  command = plan

  variables {
    logs_endpoint_id           = "vpce-0f5bee5beccb281d8"
    secretsmanager_endpoint_id = "vpce-0bc8e399a2bfa1009"
  }

  override_data {
    target = data.aws_vpc_endpoint.reused["logs"]
    values = {
      vpc_id             = "vpc-0123456789abcdef0", service_name = "com.amazonaws.eu-west-1.logs",
      vpc_endpoint_type  = "Interface", private_dns_enabled = true, state = "available",
      security_group_ids = ["sg-098a735e14f9f2953"]
    }
  }

  override_data {
    target = data.aws_vpc_endpoint.reused["secretsmanager"]
    values = {
      vpc_id             = "vpc-0123456789abcdef0", service_name = "com.amazonaws.eu-west-1.secretsmanager",
      vpc_endpoint_type  = "Interface", private_dns_enabled = true, state = "available",
      security_group_ids = ["sg-098a735e14f9f2953"]
    }
  }

  assert {
    condition     = length(aws_vpc_endpoint.logs) == 0 && length(aws_vpc_endpoint.secretsmanager) == 0
    error_message = "no interface endpoint is created where one is given by id"
  }

  assert {
    condition = (
      keys(aws_vpc_security_group_ingress_rule.endpoint_https_from_emr) == ["sg-098a735e14f9f2953"]
      && aws_vpc_security_group_ingress_rule.endpoint_https_from_emr["sg-098a735e14f9f2953"].from_port == 443
    )
    error_message = "one HTTPS rule on the reused endpoints' group"
  }

  assert {
    condition     = output.vpc_endpoint_ids == { logs = "vpce-0f5bee5beccb281d8", secretsmanager = "vpce-0bc8e399a2bfa1009" }
    error_message = "the reused endpoints are the module's endpoint ids"
  }
}
