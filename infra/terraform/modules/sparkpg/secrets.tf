# Seed section 7: the credentials secret, {"username": ..., "password": ...}.

resource "aws_secretsmanager_secret" "postgres" {
  #checkov:skip=CKV2_AWS_57:Rotation needs a rotation Lambda that knows the database; use an RDS-managed secret (secret_arn) for rotation.
  count = var.create_secret ? 1 : 0

  name                    = local.secret_name
  description             = "PostgreSQL credentials of connection ${var.connection.name} for Spark on EMR Serverless (${var.name_prefix})"
  kms_key_id              = var.secret_kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_in_days
  tags                    = local.tags
}

resource "aws_secretsmanager_secret_version" "postgres" {
  count = var.create_secret ? 1 : 0

  secret_id = aws_secretsmanager_secret.postgres[0].id
  secret_string = jsonencode({
    username = var.postgres_username
    password = var.postgres_password
  })
}
