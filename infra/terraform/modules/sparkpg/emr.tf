# Seed section 3: the PostgreSQL-enabled EMR Serverless application, and optionally a plain one.
#
# The seed's MonitoringConfiguration (CloudWatch logs of SPARK_DRIVER and SPARK_EXECUTOR, managed
# persistence) cannot be set on the application with the AWS provider 5.x: its
# aws_emrserverless_application has no monitoring_configuration (added in 6.x). The submission
# client applies it per job as configurationOverrides.monitoringConfiguration; the output
# job_monitoring_configuration holds the exact value to send.

resource "aws_emrserverless_application" "postgres" {
  name          = local.postgres_application_name
  release_label = var.release_label
  type          = "SPARK"
  architecture  = var.architecture

  dynamic "initial_capacity" {
    for_each = var.initial_capacity
    content {
      initial_capacity_type = initial_capacity.key

      initial_capacity_config {
        worker_count = initial_capacity.value.worker_count

        worker_configuration {
          cpu    = initial_capacity.value.cpu
          memory = initial_capacity.value.memory
          disk   = initial_capacity.value.disk
        }
      }
    }
  }

  maximum_capacity {
    cpu    = var.maximum_capacity.cpu
    memory = var.maximum_capacity.memory
    disk   = var.maximum_capacity.disk
  }

  network_configuration {
    subnet_ids         = var.subnet_ids
    security_group_ids = [local.emr_security_group_id]
  }

  auto_start_configuration {
    enabled = var.auto_start
  }

  auto_stop_configuration {
    enabled              = var.auto_stop_idle_timeout_minutes != null
    idle_timeout_minutes = var.auto_stop_idle_timeout_minutes
  }

  tags = merge(local.tags, { Name = local.postgres_application_name })
}

# The seed's settings name a second application (spark.emr_application_id) for jobs without
# PostgreSQL: no pre-initialised capacity and no VPC, so it costs nothing while idle.
resource "aws_emrserverless_application" "plain" {
  count = var.create_plain_application ? 1 : 0

  name          = local.plain_application_name
  release_label = var.release_label
  type          = "SPARK"
  architecture  = var.architecture

  maximum_capacity {
    cpu    = var.maximum_capacity.cpu
    memory = var.maximum_capacity.memory
    disk   = var.maximum_capacity.disk
  }

  auto_start_configuration {
    enabled = var.auto_start
  }

  auto_stop_configuration {
    enabled              = var.auto_stop_idle_timeout_minutes != null
    idle_timeout_minutes = var.auto_stop_idle_timeout_minutes
  }

  tags = merge(local.tags, { Name = local.plain_application_name })
}
