# IAM database authentication (docs/auth.md): the rds-db:connect grant and an iam connection in
# settings.json (mocked provider, offline).

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
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/sparkpg-emr-serverless-execution" }
  }
}

variables {
  vpc_id                     = "vpc-0123456789abcdef0"
  subnet_ids                 = ["subnet-0aaaaaaaaaaaaaaa1"]
  database_security_group_id = "sg-0dddddddddddddddd"
  jdbc_jar_source            = "tests/fixtures/postgresql-test.jar"
  create_secret              = false
  connection = {
    host          = "pg-database.cluster-ro-c8lobwtocefp.eu-west-1.rds.amazonaws.com"
    auth_method   = "iam"
    username      = "spark_reader"
    ssl_mode      = "verify-full"
    ssl_root_cert = "/etc/pki/rds/global-bundle.pem"
  }
  iam_database_users = [
    { cluster_resource_id = "cluster-ABCDEFGHIJKL01234", user = "spark_reader" },
    { cluster_resource_id = "cluster-ABCDEFGHIJKL01234", user = "spark_writer" },
  ]
}

run "iam_connection_and_rds_connect_grant" {
  command = apply

  assert {
    condition     = aws_iam_role_policy.rds_connect[0].name == "sparkpg-sparkpg-rds-connect"
    error_message = "the grant is an inline policy of the module's own, named sparkpg-<name_prefix>-rds-connect"
  }
  assert {
    condition = jsondecode(aws_iam_role_policy.rds_connect[0].policy) == {
      Version = "2012-10-17"
      Statement = [{
        Sid    = "ConnectAsDatabaseUsers"
        Effect = "Allow"
        Action = ["rds-db:connect"]
        Resource = [
          "arn:aws:rds-db:eu-west-1:111122223333:dbuser:cluster-ABCDEFGHIJKL01234/spark_reader",
          "arn:aws:rds-db:eu-west-1:111122223333:dbuser:cluster-ABCDEFGHIJKL01234/spark_writer",
        ]
      }]
    }
    error_message = "rds-db:connect on exactly the given users, by the cluster's resource id"
  }
  assert {
    condition = jsondecode(output.settings_json).postgres.connections == [{
      name          = "aurora"
      host          = "pg-database.cluster-ro-c8lobwtocefp.eu-west-1.rds.amazonaws.com"
      port          = 5432
      database      = "postgres"
      auth_method   = "iam"
      username      = "spark_reader"
      ssl_mode      = "verify-full"
      ssl_root_cert = "/etc/pki/rds/global-bundle.pem"
      enabled       = true
    }]
    error_message = "settings.json has the iam connection: a user, TLS, no secret"
  }
  assert {
    condition     = length(aws_secretsmanager_secret.postgres) == 0
    error_message = "no secret for an iam connection"
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.secrets[0].policy).Statement[0].Resource == ["arn:aws:secretsmanager:eu-west-1:111122223333:secret:spark/postgres/*"]
    error_message = "without a secret the secrets policy keeps only the prefix"
  }
}

run "iam_with_require_leaves_out_what_is_not_given" {
  command = plan

  variables {
    connection = {
      host        = "pg-database.cluster-ro-c8lobwtocefp.eu-west-1.rds.amazonaws.com"
      auth_method = "iam"
      username    = "spark_reader"
    }
  }

  assert {
    condition     = keys(jsondecode(output.settings_json).postgres.connections[0]) == ["auth_method", "database", "enabled", "host", "name", "port", "username"]
    error_message = "unset ssl_mode and ssl_root_cert are left out (the settings default to require)"
  }
}

run "no_users_no_grant" {
  command = apply

  variables {
    create_secret      = true
    postgres_username  = "spark"
    postgres_password  = "not-a-real-password"
    connection         = { host = "db.example.internal" }
    iam_database_users = []
  }

  assert {
    condition     = length(aws_iam_role_policy.rds_connect) == 0
    error_message = "no rds-db:connect policy without iam_database_users"
  }
  assert {
    condition     = jsondecode(output.settings_json).postgres.connections[0].auth_method == "user_password"
    error_message = "the default connection stays user_password"
  }
}

run "cluster_name_instead_of_resource_id" {
  command = plan

  variables {
    iam_database_users = [{ cluster_resource_id = "pg-database", user = "spark_reader" }]
  }

  expect_failures = [var.iam_database_users]
}

run "wildcard_user" {
  command = plan

  variables {
    iam_database_users = [{ cluster_resource_id = "cluster-ABCDEFGHIJKL01234", user = "*" }]
  }

  expect_failures = [var.iam_database_users]
}

run "iam_without_username" {
  command = plan

  variables {
    connection = {
      host        = "pg-database.cluster-ro-c8lobwtocefp.eu-west-1.rds.amazonaws.com"
      auth_method = "iam"
    }
  }

  expect_failures = [var.connection]
}

run "iam_with_weak_tls" {
  command = plan

  variables {
    connection = {
      host        = "pg-database.cluster-ro-c8lobwtocefp.eu-west-1.rds.amazonaws.com"
      auth_method = "iam"
      username    = "spark_reader"
      ssl_mode    = "prefer"
    }
  }

  expect_failures = [var.connection]
}

run "iam_with_a_created_secret" {
  command = plan

  variables {
    create_secret     = true
    postgres_username = "spark"
    postgres_password = "not-a-real-password"
  }

  expect_failures = [var.connection]
}

run "unknown_auth_method" {
  command = plan

  variables {
    connection = { host = "db.example.internal", auth_method = "password" }
  }

  expect_failures = [var.connection]
}
