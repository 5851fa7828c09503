# The log group of the jobs' driver and executor logs (seed section 3, MonitoringConfiguration).

resource "aws_cloudwatch_log_group" "jobs" {
  count = var.create_log_group ? 1 : 0

  name              = local.log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_group_kms_key_arn
  tags              = local.tags
}
