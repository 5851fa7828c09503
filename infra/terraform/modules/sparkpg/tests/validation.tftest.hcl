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

run "architecture" {
  command = plan
  variables { architecture = "x86" }
  expect_failures = [var.architecture]
}

run "release_label" {
  command = plan
  variables { release_label = "7.0.0" }
  expect_failures = [var.release_label]
}

run "name_prefix" {
  command = plan
  variables { name_prefix = "Spark_PG" }
  expect_failures = [var.name_prefix]
}

run "no_subnets" {
  command = plan
  variables { subnet_ids = [] }
  expect_failures = [var.subnet_ids]
}

run "secret_prefix_wildcard" {
  command = plan
  variables { secret_prefix = "spark/*" }
  expect_failures = [var.secret_prefix]
}

run "secret_name_outside_prefix" {
  command = plan
  variables { secret_name = "other/aurora" }
  expect_failures = [var.secret_name]
}

run "password_required_for_a_created_secret" {
  command = plan
  variables { postgres_password = null }
  expect_failures = [var.postgres_password]
}

run "existing_secret_needs_its_arn" {
  command = plan
  variables { create_secret = false }
  expect_failures = [var.secret_arn]
}

run "existing_role_needs_its_arn" {
  command = plan
  variables { create_execution_role = false }
  expect_failures = [var.execution_role_arn]
}

run "existing_role_arn_format" {
  command = plan
  variables {
    create_execution_role = false
    execution_role_arn    = "EMRServerlessExecutionRole"
  }
  expect_failures = [var.execution_role_arn]
}

run "existing_bucket_needs_its_name" {
  command = plan
  variables { create_bucket = false }
  expect_failures = [var.bucket_name]
}

run "existing_security_group_needs_its_id" {
  command = plan
  variables { create_security_group = false }
  expect_failures = [var.security_group_id]
}

run "database_rule_needs_the_database_group" {
  command = plan
  variables { database_security_group_id = null }
  expect_failures = [var.database_security_group_id]
}

run "s3_endpoint_needs_route_tables" {
  command = plan
  variables { create_s3_endpoint = true }
  expect_failures = [var.s3_route_table_ids]
}

run "host_with_scheme" {
  command = plan
  variables { connection = { host = "jdbc:postgresql://db.example.internal:5432/postgres" } }
  expect_failures = [var.connection]
}

run "port_out_of_range" {
  command = plan
  variables {
    connection = { host = "db.example.internal", port = 70000 }
  }
  expect_failures = [var.connection]
}

run "initial_capacity_type" {
  command = plan
  variables {
    initial_capacity = { Worker = { worker_count = 1, cpu = "2 vCPU", memory = "4 GB" } }
  }
  expect_failures = [var.initial_capacity]
}

run "initial_capacity_units" {
  command = plan
  variables {
    initial_capacity = { Driver = { worker_count = 1, cpu = "2", memory = "4096" } }
  }
  expect_failures = [var.initial_capacity]
}

run "auto_stop_timeout" {
  command = plan
  variables { auto_stop_idle_timeout_minutes = 0 }
  expect_failures = [var.auto_stop_idle_timeout_minutes]
}

run "plain_application_twice" {
  command = plan
  variables {
    create_plain_application = true
    emr_application_id       = "00fexistingapp01"
  }
  expect_failures = [var.emr_application_id]
}

run "log_retention" {
  command = plan
  variables { log_retention_in_days = 42 }
  expect_failures = [var.log_retention_in_days]
}

run "jar_path" {
  command = plan
  variables { jdbc_jar_source = "tests/fixtures/postgresql-test.zip" }
  expect_failures = [var.jdbc_jar_source]
}

run "writable_prefix_wildcard" {
  command = plan
  variables { s3_writable_prefixes = ["*"] }
  expect_failures = [var.s3_writable_prefixes]
}
