# Seed section 4: the artifacts bucket and the JDBC driver JAR in it.

resource "aws_s3_bucket" "artifacts" {
  #checkov:skip=CKV_AWS_18:Access logging needs a separate log bucket that the account owns; out of scope of this module.
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery decision of the account; the JAR is rebuilt from a pinned version.
  #checkov:skip=CKV2_AWS_62:No consumer of bucket event notifications; jobs are submitted explicitly.
  count = var.create_bucket ? 1 : 0

  bucket        = local.bucket_name
  force_destroy = var.force_destroy_bucket
  tags          = local.tags

  lifecycle {
    precondition {
      condition     = length(local.bucket_name) <= 63
      error_message = "The artifacts bucket name ${local.bucket_name} is longer than 63 characters: shorten name_prefix or set bucket_name."
    }
  }
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  count = var.create_bucket ? 1 : 0

  bucket                  = aws_s3_bucket.artifacts[0].bucket
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.artifacts[0].bucket
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "artifacts" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.artifacts[0].bucket
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.artifacts[0].bucket
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.bucket_kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.bucket_kms_key_arn
    }
    bucket_key_enabled = var.bucket_kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.artifacts[0].bucket

  rule {
    id     = "abort-incomplete-uploads-and-expire-old-versions"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    noncurrent_version_expiration {
      noncurrent_days = 90
    }
  }
}

locals {
  artifacts_bucket_policy = {
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [local.bucket_arn, "${local.bucket_arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  }
}

resource "aws_s3_bucket_policy" "artifacts" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.artifacts[0].bucket
  policy = jsonencode(local.artifacts_bucket_policy)

  depends_on = [aws_s3_bucket_public_access_block.artifacts]
}

resource "aws_s3_object" "jdbc_jar" {
  bucket       = var.create_bucket ? aws_s3_bucket.artifacts[0].bucket : local.bucket_name
  key          = local.jdbc_jar_key
  source       = var.jdbc_jar_source
  source_hash  = filemd5(var.jdbc_jar_source)
  content_type = "application/java-archive"
  tags         = local.tags

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.artifacts]
}
