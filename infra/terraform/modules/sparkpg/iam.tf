# Seed section 2: the execution role and its inline policies. The documents are plain jsonencode
# so that the module's tests can read them back (jsondecode) and check their scope.
#
# The policies are named sparkpg-<name_prefix>-<purpose>: on an existing role (the documented
# "reuse a role" path) a name such as EMRServerlessS3Policy would replace that role's own policy
# of the same name (PutRolePolicy overwrites) and destroy would delete it.

locals {
  execution_trust_policy = {
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EMRServerlessAssumeRole"
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "emr-serverless.amazonaws.com" }
      # Only EMR Serverless acting for this account may assume the role (confused deputy).
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  }

  policy_name_prefix = "sparkpg-${var.name_prefix}"

  # What the seed's EMRSecretsManagerPolicy grants: the secrets under the prefix, and a given secret.
  secrets_policy = {
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid      = "ReadPostgresSecrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        Resource = var.create_secret || var.secret_arn == null ? [local.secret_prefix_arn] : distinct([local.secret_prefix_arn, var.secret_arn])
      }],
      var.secret_kms_key_arn == null ? [] : [{
        Sid       = "DecryptSecretsThroughSecretsManager"
        Effect    = "Allow"
        Action    = ["kms:Decrypt"]
        Resource  = [var.secret_kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${local.region}.amazonaws.com" } }
      }],
    )
  }

  # IAM database authentication (docs/auth.md): log in as these database users, named by the
  # cluster's resource id (the ARN format of rds-db:connect).
  rds_connect_policy = {
    Version = "2012-10-17"
    Statement = [{
      Sid    = "ConnectAsDatabaseUsers"
      Effect = "Allow"
      Action = ["rds-db:connect"]
      Resource = [
        for u in var.iam_database_users :
        "arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:${u.cluster_resource_id}/${u.user}"
      ]
    }]
  }

  # S3: list and read the artifacts bucket; write only under the log and writable prefixes.
  s3_policy = {
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "ListArtifactsBucket"
          Effect   = "Allow"
          Action   = ["s3:ListBucket", "s3:GetBucketLocation"]
          Resource = [local.bucket_arn]
        },
        {
          Sid      = "ReadArtifacts"
          Effect   = "Allow"
          Action   = ["s3:GetObject"]
          Resource = ["${local.bucket_arn}/*"]
        },
        {
          Sid      = "WriteLogsAndOutput"
          Effect   = "Allow"
          Action   = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
          Resource = [for p in distinct(concat([var.job_log_prefix], var.s3_writable_prefixes)) : "${local.bucket_arn}/${p}*"]
        },
      ],
      var.bucket_kms_key_arn == null ? [] : [{
        Sid      = "UseBucketKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [var.bucket_kms_key_arn]
      }],
    )
  }

  # CloudWatch Logs: write the driver and executor logs of this one log group, the group that
  # settings.spark.emr_cloudwatch_log_group sends the jobs to (EMR Serverless needs
  # DescribeLogGroups to find it).
  logs_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "FindLogGroup"
        Effect   = "Allow"
        Action   = ["logs:DescribeLogGroups"]
        Resource = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
      },
      {
        Sid    = "WriteJobLogs"
        Effect = "Allow"
        Action = concat(
          ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
          var.create_log_group ? [] : ["logs:CreateLogGroup"],
        )
        Resource = [local.log_group_arn, "${local.log_group_arn}:*"]
      },
    ]
  }
}

resource "aws_iam_role" "execution" {
  count = var.create_execution_role ? 1 : 0

  name               = coalesce(var.execution_role_name, "${var.name_prefix}-emr-serverless-execution")
  description        = "EMR Serverless job execution role of ${var.name_prefix}"
  assume_role_policy = jsonencode(local.execution_trust_policy)
  tags               = local.tags
}

resource "aws_iam_role_policy" "secrets" {
  count = var.manage_execution_role_policies ? 1 : 0

  name   = "${local.policy_name_prefix}-secrets"
  role   = local.execution_role_name
  policy = jsonencode(local.secrets_policy)
}

resource "aws_iam_role_policy" "s3" {
  count = var.manage_execution_role_policies ? 1 : 0

  name   = "${local.policy_name_prefix}-s3"
  role   = local.execution_role_name
  policy = jsonencode(local.s3_policy)
}

resource "aws_iam_role_policy" "logs" {
  count = var.manage_execution_role_policies ? 1 : 0

  name   = "${local.policy_name_prefix}-logs"
  role   = local.execution_role_name
  policy = jsonencode(local.logs_policy)
}

# Only when users are given: the grant is asked for by name, so it does not follow
# manage_execution_role_policies.
resource "aws_iam_role_policy" "rds_connect" {
  count = length(var.iam_database_users) > 0 ? 1 : 0

  name   = "${local.policy_name_prefix}-rds-connect"
  role   = local.execution_role_name
  policy = jsonencode(local.rds_connect_policy)
}

resource "aws_iam_role_policy_attachment" "additional" {
  for_each = toset(var.additional_policy_arns)

  role       = local.execution_role_name
  policy_arn = each.value
}
