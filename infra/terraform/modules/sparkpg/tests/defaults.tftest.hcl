# The module with its defaults, against a mocked AWS provider (offline): what the seed asks for.

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
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:spark/postgres/aurora-AbCdEf" }
  }
}

variables {
  vpc_id                     = "vpc-0123456789abcdef0"
  subnet_ids                 = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
  database_security_group_id = "sg-0dddddddddddddddd"
  jdbc_jar_source            = "tests/fixtures/postgresql-test.jar"
  connection                 = { host = "db.cluster-ro-example.eu-west-1.rds.amazonaws.com" }
  postgres_username          = "spark"
  postgres_password          = "not-a-real-password"
}

run "application_matches_the_seed" {
  command = apply

  assert {
    condition     = aws_emrserverless_application.postgres.release_label == "emr-7.0.0"
    error_message = "release label must default to the seed's emr-7.0.0"
  }
  assert {
    condition     = upper(aws_emrserverless_application.postgres.type) == "SPARK" && aws_emrserverless_application.postgres.architecture == "X86_64"
    error_message = "a Spark application on X86_64 by default"
  }
  assert {
    condition = {
      for c in aws_emrserverless_application.postgres.initial_capacity : c.initial_capacity_type => [
        c.initial_capacity_config[0].worker_count,
        c.initial_capacity_config[0].worker_configuration[0].cpu,
        c.initial_capacity_config[0].worker_configuration[0].memory,
        c.initial_capacity_config[0].worker_configuration[0].disk,
      ]
      } == {
      Driver   = [1, "2 vCPU", "4 GB", "20 GB"]
      Executor = [2, "4 vCPU", "8 GB", "20 GB"]
    }
    error_message = "initial capacity must be the seed's: 1 driver 2 vCPU/4 GB/20 GB, 2 executors 4 vCPU/8 GB/20 GB"
  }
  assert {
    condition = (
      aws_emrserverless_application.postgres.maximum_capacity[0].cpu == "400 vCPU"
      && aws_emrserverless_application.postgres.maximum_capacity[0].memory == "1000 GB"
      && aws_emrserverless_application.postgres.maximum_capacity[0].disk == "400000 GB"
    )
    error_message = "maximum capacity must be the seed's 400 vCPU / 1000 GB / 400000 GB"
  }
  assert {
    condition = (
      aws_emrserverless_application.postgres.auto_start_configuration[0].enabled
      && aws_emrserverless_application.postgres.auto_stop_configuration[0].enabled
      && aws_emrserverless_application.postgres.auto_stop_configuration[0].idle_timeout_minutes == 15
    )
    error_message = "auto-start on, auto-stop after 15 idle minutes"
  }
  assert {
    condition = (
      toset(aws_emrserverless_application.postgres.network_configuration[0].subnet_ids) == toset(var.subnet_ids)
      && toset(aws_emrserverless_application.postgres.network_configuration[0].security_group_ids) == toset([aws_security_group.emr[0].id])
    )
    error_message = "the application runs in the given subnets with the module's security group"
  }
  assert {
    condition     = length(aws_emrserverless_application.plain) == 0 && output.emr_application_id == aws_emrserverless_application.postgres.id
    error_message = "no plain application by default; emr_application_id falls back to the PostgreSQL application"
  }
}

run "vpc_endpoints_and_security_group_rules" {
  command = apply

  assert {
    condition = (
      aws_vpc_endpoint.logs[0].service_name == "com.amazonaws.eu-west-1.logs"
      && aws_vpc_endpoint.secretsmanager[0].service_name == "com.amazonaws.eu-west-1.secretsmanager"
    )
    error_message = "interface endpoints for CloudWatch Logs and Secrets Manager in the provider's region"
  }
  assert {
    condition = alltrue([for e in [aws_vpc_endpoint.logs[0], aws_vpc_endpoint.secretsmanager[0]] :
      e.vpc_endpoint_type == "Interface" && e.private_dns_enabled
      && e.subnet_ids == toset(["subnet-0aaaaaaaaaaaaaaa1"])
      && toset(e.security_group_ids) == toset([aws_security_group.emr[0].id])
    ])
    error_message = "interface endpoints need private DNS and the EMR security group, and take one subnet per zone: both subnets are in eu-west-1a, so only the lowest id"
  }
  assert {
    condition     = toset(aws_emrserverless_application.postgres.network_configuration[0].subnet_ids) == toset(var.subnet_ids)
    error_message = "the application keeps every subnet, also two in one zone"
  }
  assert {
    condition     = length(aws_vpc_endpoint.s3) == 0
    error_message = "the S3 gateway endpoint is off by default"
  }
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.emr_self[0].ip_protocol == "-1"
      && aws_vpc_security_group_ingress_rule.emr_self[0].referenced_security_group_id == aws_security_group.emr[0].id
      && aws_vpc_security_group_ingress_rule.emr_self[0].security_group_id == aws_security_group.emr[0].id
    )
    error_message = "self ingress: all traffic from the EMR security group to itself"
  }
  assert {
    condition     = aws_vpc_security_group_egress_rule.emr_all[0].ip_protocol == "-1" && aws_vpc_security_group_egress_rule.emr_all[0].cidr_ipv4 == "0.0.0.0/0"
    error_message = "egress: all traffic to 0.0.0.0/0"
  }
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.database_from_emr[0].security_group_id == "sg-0dddddddddddddddd"
      && aws_vpc_security_group_ingress_rule.database_from_emr[0].referenced_security_group_id == aws_security_group.emr[0].id
      && aws_vpc_security_group_ingress_rule.database_from_emr[0].ip_protocol == "tcp"
      && aws_vpc_security_group_ingress_rule.database_from_emr[0].from_port == 5432
      && aws_vpc_security_group_ingress_rule.database_from_emr[0].to_port == 5432
    )
    error_message = "the database security group admits tcp/5432 from the EMR security group, and nothing else"
  }
}

run "endpoint_subnets_one_per_zone" {
  command = apply

  variables {
    subnet_ids = ["subnet-0ccccccccccccccc3", "subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]
  }

  override_data {
    target = data.aws_subnet.endpoint_candidates[0]
    values = { availability_zone = "eu-west-1b" }
  }

  assert {
    condition     = output.endpoint_subnet_ids == tolist(["subnet-0aaaaaaaaaaaaaaa1", "subnet-0ccccccccccccccc3"])
    error_message = "one subnet per zone, the lowest id of each (eu-west-1a: ...1 and ...2, eu-west-1b: ...3), in zone order"
  }
  assert {
    condition     = aws_vpc_endpoint.logs[0].subnet_ids == toset(output.endpoint_subnet_ids) && aws_vpc_endpoint.secretsmanager[0].subnet_ids == toset(output.endpoint_subnet_ids)
    error_message = "both interface endpoints use the chosen subnets"
  }
}

run "iam_is_scoped" {
  command = apply

  assert {
    condition = (
      jsondecode(aws_iam_role.execution[0].assume_role_policy).Statement[0].Principal == { Service = "emr-serverless.amazonaws.com" }
      && jsondecode(aws_iam_role.execution[0].assume_role_policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "111122223333"
    )
    error_message = "the role trusts emr-serverless.amazonaws.com for this account only"
  }
  assert {
    condition = [aws_iam_role_policy.secrets[0].name, aws_iam_role_policy.s3[0].name, aws_iam_role_policy.logs[0].name] == [
      "sparkpg-sparkpg-secrets", "sparkpg-sparkpg-s3", "sparkpg-sparkpg-logs",
    ]
    error_message = "the inline policies carry the module's prefix, so they cannot replace a role's own (EMRSecretsManagerPolicy, EMRServerlessS3Policy)"
  }
  assert {
    condition = jsondecode(aws_iam_role_policy.secrets[0].policy).Statement == [{
      Sid      = "ReadPostgresSecrets"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
      Resource = ["arn:aws:secretsmanager:eu-west-1:111122223333:secret:spark/postgres/*"]
    }]
    error_message = "EMRSecretsManagerPolicy grants exactly GetSecretValue/DescribeSecret on spark/postgres/* of this account and region"
  }
  assert {
    condition = alltrue(flatten([for s in jsondecode(aws_iam_role_policy.s3[0].policy).Statement :
      [for r in s.Resource : startswith(r, "arn:aws:s3:::sparkpg-artifacts-111122223333-eu-west-1")]
    ]))
    error_message = "S3 permissions are scoped to the artifacts bucket"
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.s3[0].policy).Statement : s.Resource if s.Sid == "WriteLogsAndOutput"][0] == [
      "arn:aws:s3:::sparkpg-artifacts-111122223333-eu-west-1/logs/*",
      "arn:aws:s3:::sparkpg-artifacts-111122223333-eu-west-1/output/*",
    ]
    error_message = "writes are limited to logs/ and output/"
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.logs[0].policy).Statement : s.Resource if s.Sid == "WriteJobLogs"][0] == [
      "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/emr-serverless/sparkpg",
      "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/emr-serverless/sparkpg:*",
    ]
    error_message = "log writes are scoped to the module's log group"
  }
  assert {
    condition     = !contains(flatten([for s in jsondecode(aws_iam_role_policy.logs[0].policy).Statement : s.Action]), "logs:CreateLogGroup")
    error_message = "the module creates the log group, so the role needs no logs:CreateLogGroup"
  }
  assert {
    condition = alltrue(flatten([for p in [aws_iam_role_policy.secrets[0], aws_iam_role_policy.s3[0], aws_iam_role_policy.logs[0]] :
      [for s in jsondecode(p.policy).Statement : !contains(s.Resource, "*") && !contains(flatten([s.Action]), "*")]
    ]))
    error_message = "no policy grants '*' actions or resources"
  }
}

run "secret_jar_and_settings" {
  command = apply

  assert {
    condition     = aws_secretsmanager_secret.postgres[0].name == "spark/postgres/aurora"
    error_message = "the secret is named <secret_prefix><connection name>"
  }
  assert {
    condition     = jsondecode(aws_secretsmanager_secret_version.postgres[0].secret_string) == { username = "spark", password = "not-a-real-password" }
    error_message = "the secret holds exactly the seed's format {username, password}"
  }
  assert {
    condition = (
      aws_s3_object.jdbc_jar.bucket == "sparkpg-artifacts-111122223333-eu-west-1"
      && aws_s3_object.jdbc_jar.key == "jars/postgresql-test.jar"
      && output.jdbc_driver_s3_uri == "s3://sparkpg-artifacts-111122223333-eu-west-1/jars/postgresql-test.jar"
    )
    error_message = "the JAR goes to jars/<file name> in the artifacts bucket"
  }
  assert {
    condition = (
      aws_s3_bucket_public_access_block.artifacts[0].block_public_acls && aws_s3_bucket_public_access_block.artifacts[0].restrict_public_buckets
      && aws_s3_bucket_versioning.artifacts[0].versioning_configuration[0].status == "Enabled"
    )
    error_message = "the created bucket is private and versioned"
  }
  assert {
    condition     = keys(jsondecode(output.settings_json)) == ["postgres", "spark"]
    error_message = "settings.json has exactly the sections spark and postgres"
  }
  assert {
    condition = jsondecode(output.settings_json).spark == {
      emr_application_id          = aws_emrserverless_application.postgres.id
      emr_postgres_application_id = aws_emrserverless_application.postgres.id
      supervisor_arn              = null
      emr_execution_role_arn      = aws_iam_role.execution[0].arn
      emr_cloudwatch_log_group    = "/aws/emr-serverless/sparkpg"
      emr_log_uri                 = "s3://sparkpg-artifacts-111122223333-eu-west-1/logs/"
      emr_bundle_uri              = "s3://sparkpg-artifacts-111122223333-eu-west-1/bundle/manifests/latest.json"
      emr_initial_capacity = {
        Driver   = { workerCount = 1, workerConfiguration = { cpu = "2 vCPU", memory = "4 GB", disk = "20 GB" } }
        Executor = { workerCount = 2, workerConfiguration = { cpu = "4 vCPU", memory = "8 GB", disk = "20 GB" } }
      }
    }
    error_message = "settings.spark carries the application ids, supervisor_arn, and what submit needs: role, log group, S3 log URI, bundle, initial capacity"
  }
  assert {
    condition = (
      jsondecode(aws_iam_role_policy.logs[0].policy).Statement[1].Resource == [
        "arn:aws:logs:eu-west-1:111122223333:log-group:${jsondecode(output.settings_json).spark.emr_cloudwatch_log_group}",
        "arn:aws:logs:eu-west-1:111122223333:log-group:${jsondecode(output.settings_json).spark.emr_cloudwatch_log_group}:*",
      ]
      && jsondecode(aws_iam_role_policy.logs[0].policy).Statement[1].Action == ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
      && contains(jsondecode(aws_iam_role_policy.s3[0].policy).Statement[2].Resource, "arn:aws:s3:::sparkpg-artifacts-111122223333-eu-west-1/logs/*")
      && contains(jsondecode(aws_iam_role_policy.s3[0].policy).Statement[2].Action, "s3:PutObject")
    )
    error_message = "the role may write exactly the log group and the S3 log prefix that settings.json sends the jobs to"
  }
  assert {
    condition = jsondecode(output.settings_json).postgres == {
      jdbc_driver_path = "s3://sparkpg-artifacts-111122223333-eu-west-1/jars/postgresql-test.jar"
      connections = [{
        name        = "aurora"
        secret_arn  = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:spark/postgres/aurora-AbCdEf"
        host        = "db.cluster-ro-example.eu-west-1.rds.amazonaws.com"
        port        = 5432
        database    = "postgres"
        auth_method = "user_password"
        enabled     = true
      }]
    }
    error_message = "settings.postgres is in the seed's format with the created secret's ARN"
  }
  assert {
    condition     = output.job_monitoring_configuration.cloudWatchLoggingConfiguration.logTypes == { SPARK_DRIVER = ["stdout", "stderr"], SPARK_EXECUTOR = ["stdout", "stderr"] }
    error_message = "the per-job monitoring configuration carries the seed's driver and executor log types"
  }
}
