# Bad input is rejected at plan time, with the variable named (mocked provider, offline).

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

run "valid_input_plans" {
  command = plan
}

# Several bad variables per run keep the suite fast: each run starts the provider once, and every
# variable listed in expect_failures must fail its own validation.

run "malformed_scalars" {
  command = plan

  variables {
    name_prefix                    = "Spark_PG"   # upper case and '_' cannot go into a bucket name
    architecture                   = "x86"        # X86_64 or ARM64
    release_label                  = "7.0.0"      # emr-7.0.0
    auto_stop_idle_timeout_minutes = 0            # 1..10080
    log_retention_in_days          = 42           # not a CloudWatch retention value
    jdbc_jar_source                = "driver.zip" # a .jar
    secret_prefix                  = "spark/*"    # no wildcards; ends with '/'
    job_log_prefix                 = "/logs"      # relative, ends with '/'
    egress_cidr_ipv4               = "everywhere" # a CIDR block
  }

  expect_failures = [
    var.name_prefix,
    var.architecture,
    var.release_label,
    var.auto_stop_idle_timeout_minutes,
    var.log_retention_in_days,
    var.jdbc_jar_source,
    var.secret_prefix,
    var.job_log_prefix,
    var.egress_cidr_ipv4,
  ]
}

run "malformed_lists_and_objects" {
  command = plan

  variables {
    vpc_id               = "vpc-XYZ"
    subnet_ids           = []
    s3_writable_prefixes = ["*"]
    initial_capacity     = { Worker = { worker_count = 1, cpu = "2 vCPU", memory = "4 GB" } }
    maximum_capacity     = { cpu = "400", memory = "1000 GB" }
    connection           = { host = "jdbc:postgresql://db.example.internal:5432/postgres" }
  }

  expect_failures = [
    var.vpc_id,
    var.subnet_ids,
    var.s3_writable_prefixes,
    var.initial_capacity,
    var.maximum_capacity,
    var.connection,
  ]
}

run "out_of_range_numbers" {
  command = plan

  variables {
    initial_capacity               = { Driver = { worker_count = 0.5, cpu = "2 vCPU", memory = "4 GB" } }
    connection                     = { host = "db.example.internal", port = 70000 }
    secret_recovery_window_in_days = 3
  }

  expect_failures = [
    var.initial_capacity,
    var.connection,
    var.secret_recovery_window_in_days,
  ]
}

run "existing_resources_need_their_ids" {
  command = plan

  variables {
    create_secret              = false
    create_execution_role      = false
    create_bucket              = false
    create_security_group      = false
    create_s3_endpoint         = true
    database_security_group_id = null
    postgres_username          = null
    postgres_password          = null
  }

  expect_failures = [
    var.secret_arn,
    var.execution_role_arn,
    var.bucket_name,
    var.security_group_id,
    var.s3_route_table_ids,
    var.database_security_group_id,
  ]
}

run "inconsistent_choices" {
  command = plan

  variables {
    secret_name              = "other/aurora" # outside secret_prefix: the role could not read it
    postgres_password        = null           # the module creates the secret, so it needs one
    create_plain_application = true
    emr_application_id       = "00fexistingapp01"
    execution_role_arn       = "EMRServerlessExecutionRole" # a name, not an ARN
    secret_arn               = "spark/postgres/aurora"      # a name, not an ARN
  }

  expect_failures = [
    var.secret_name,
    var.postgres_password,
    var.emr_application_id,
    var.execution_role_arn,
    var.secret_arn,
  ]
}

run "secret_arn_without_its_suffix" {
  command = plan

  variables {
    create_secret     = false
    postgres_username = null
    postgres_password = null
    # a partial ARN: the policy would name it as given and never match the secret
    secret_arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:spark/postgres/aurora"
  }

  expect_failures = [var.secret_arn]
}

run "bucket_name_too_long" {
  command = plan

  variables {
    name_prefix = "sparkpg-team-analytics-prod-eu01" # valid (32 characters), but the bucket name gets 65
  }

  expect_failures = [aws_s3_bucket.artifacts]
}

run "endpoint_subnets_two_in_one_zone" {
  command = plan

  variables {
    subnet_ids          = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
    endpoint_subnet_ids = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"] # both in eu-west-1a (mock)
  }

  expect_failures = [aws_vpc_endpoint.logs, aws_vpc_endpoint.secretsmanager]
}

run "vpc_without_dns_hostnames" {
  command = plan

  override_data {
    target = data.aws_vpc.this
    values = { enable_dns_support = true, enable_dns_hostnames = false }
  }

  expect_failures = [data.aws_vpc.this]
}

run "reused_endpoint_of_another_service" {
  command = plan

  variables {
    logs_endpoint_id = "vpce-0bc8e399a2bfa1009" # the Secrets Manager endpoint, by mistake
  }

  override_data {
    target = data.aws_vpc_endpoint.reused["logs"]
    values = {
      vpc_id             = "vpc-0123456789abcdef0", service_name = "com.amazonaws.eu-west-1.secretsmanager",
      vpc_endpoint_type  = "Interface", private_dns_enabled = true, state = "available",
      security_group_ids = ["sg-098a735e14f9f2953"]
    }
  }

  expect_failures = [data.aws_vpc_endpoint.reused]
}
