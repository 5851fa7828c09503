# Seed section 2: the execution role and its inline policies. The documents are plain jsonencode
# so that the module's tests can read them back (jsondecode) and check their scope.

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

  # The seed's EMRSecretsManagerPolicy: the secrets under the prefix, and a given secret.
  secrets_policy = {
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid      = "ReadPostgresSecrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        Resource = var.create_secret ? [local.secret_prefix_arn] : distinct([local.secret_prefix_arn, var.secret_arn])
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

  # CloudWatch Logs: write the driver and executor logs of this one log group.
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

  name   = "EMRSecretsManagerPolicy"
  role   = local.execution_role_name
  policy = jsonencode(local.secrets_policy)
}

resource "aws_iam_role_policy" "s3" {
  count = var.manage_execution_role_policies ? 1 : 0

  name   = "EMRServerlessS3Policy"
  role   = local.execution_role_name
  policy = jsonencode(local.s3_policy)
}

resource "aws_iam_role_policy" "logs" {
  count = var.manage_execution_role_policies ? 1 : 0

  name   = "EMRServerlessCloudWatchLogsPolicy"
  role   = local.execution_role_name
  policy = jsonencode(local.logs_policy)
}

resource "aws_iam_role_policy_attachment" "additional" {
  for_each = toset(var.additional_policy_arns)

  role       = local.execution_role_name
  policy_arn = each.value
}
