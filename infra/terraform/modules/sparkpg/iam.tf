# Seed section 2: the execution role and its inline policies.

data "aws_iam_policy_document" "execution_trust" {
  statement {
    sid     = "EMRServerlessAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["emr-serverless.amazonaws.com"]
    }

    # Only EMR Serverless acting for this account may assume the role (confused deputy).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  count = local.create_execution_role ? 1 : 0

  name               = coalesce(var.execution_role_name, "${var.name_prefix}-emr-serverless-execution")
  description        = "EMR Serverless job execution role of ${var.name_prefix}"
  assume_role_policy = data.aws_iam_policy_document.execution_trust.json
  tags               = local.tags
}

# The seed's EMRSecretsManagerPolicy: read the secrets under the prefix, and the given secret.
data "aws_iam_policy_document" "secrets" {
  statement {
    sid       = "ReadPostgresSecrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = distinct(compact([local.secret_prefix_arn, var.secret_arn]))
  }

  dynamic "statement" {
    for_each = var.secret_kms_key_arn == null ? [] : [var.secret_kms_key_arn]
    content {
      sid       = "DecryptSecretsThroughSecretsManager"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "secrets" {
  count = var.manage_execution_role_policies ? 1 : 0

  name   = "EMRSecretsManagerPolicy"
  role   = local.execution_role_name
  policy = data.aws_iam_policy_document.secrets.json
}

# S3: list and read the artifacts bucket, write only under the writable prefixes.
data "aws_iam_policy_document" "s3" {
  statement {
    sid       = "ListArtifactsBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.bucket_arn]
  }

  statement {
    sid       = "ReadArtifacts"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/*"]
  }

  statement {
    sid       = "WriteLogsAndOutput"
    actions   = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = [for p in distinct(concat([var.job_log_prefix], var.s3_writable_prefixes)) : "${local.bucket_arn}/${p}*"]
  }

  dynamic "statement" {
    for_each = var.bucket_kms_key_arn == null ? [] : [var.bucket_kms_key_arn]
    content {
      sid       = "UseBucketKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "s3" {
  count = var.manage_execution_role_policies ? 1 : 0

  name   = "EMRServerlessS3Policy"
  role   = local.execution_role_name
  policy = data.aws_iam_policy_document.s3.json
}

# CloudWatch Logs: write the driver and executor logs of this log group, nothing else.
data "aws_iam_policy_document" "logs" {
  statement {
    sid       = "FindLogGroup"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
  }

  statement {
    sid = "WriteJobLogs"
    actions = concat(
      ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
      var.create_log_group ? [] : ["logs:CreateLogGroup"],
    )
    resources = [local.log_group_arn, "${local.log_group_arn}:*"]
  }
}

resource "aws_iam_role_policy" "logs" {
  count = var.manage_execution_role_policies ? 1 : 0

  name   = "EMRServerlessCloudWatchLogsPolicy"
  role   = local.execution_role_name
  policy = data.aws_iam_policy_document.logs.json
}

resource "aws_iam_role_policy_attachment" "additional" {
  for_each = toset(var.additional_policy_arns)

  role       = local.execution_role_name
  policy_arn = each.value
}
