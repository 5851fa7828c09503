output "postgres_application_id" {
  description = "Id of the PostgreSQL-enabled EMR Serverless application (settings.spark.emr_postgres_application_id)."
  value       = aws_emrserverless_application.postgres.id
}

output "postgres_application_arn" {
  description = "ARN of the PostgreSQL-enabled EMR Serverless application."
  value       = aws_emrserverless_application.postgres.arn
}

output "plain_application_id" {
  description = "Id of the plain application, or null when create_plain_application is false."
  value       = var.create_plain_application ? aws_emrserverless_application.plain[0].id : null
}

output "emr_application_id" {
  description = "The value of settings.spark.emr_application_id: the plain application, the given one, or the PostgreSQL application."
  value       = local.emr_application_id
}

output "execution_role_arn" {
  description = "ARN of the EMR Serverless execution role (created or given); pass it as executionRoleArn of StartJobRun."
  value       = local.execution_role_arn
}

output "execution_role_name" {
  description = "Name of the execution role, to attach more policies to it."
  value       = local.execution_role_name
}

output "secret_arn" {
  description = "ARN of the credentials secret (created or given)."
  value       = local.secret_arn
}

output "bucket_name" {
  description = "Name of the artifacts bucket."
  value       = local.bucket_name
}

output "jdbc_driver_s3_uri" {
  description = "S3 URI of the uploaded JDBC JAR (settings.postgres.jdbc_driver_path; spark-submit --jars)."
  value       = local.jdbc_jar_s3_uri
}

output "security_group_id" {
  description = "The EMR Serverless application's security group (created or given)."
  value       = local.emr_security_group_id
}

output "vpc_endpoint_ids" {
  description = "Ids of the VPC endpoints by service (logs, secretsmanager, s3): the created ones and those reused by id."
  value = merge(
    local.create_logs_endpoint ? { logs = aws_vpc_endpoint.logs[0].id } : {},
    local.create_secretsmanager_endpoint ? { secretsmanager = aws_vpc_endpoint.secretsmanager[0].id } : {},
    local.reused_endpoint_ids,
    var.create_s3_endpoint ? { s3 = aws_vpc_endpoint.s3[0].id } : {},
  )
}

output "log_group_name" {
  description = "CloudWatch log group of the jobs' driver and executor logs."
  value       = local.log_group_name
}

output "job_monitoring_configuration" {
  description = "configurationOverrides.monitoringConfiguration for StartJobRun: the seed's application monitoring settings, which the AWS provider 5.x cannot set on the application, applied per job by the submission client."
  value = {
    cloudWatchLoggingConfiguration = {
      enabled      = true
      logGroupName = local.log_group_name
      logTypes = {
        SPARK_DRIVER   = ["stdout", "stderr"]
        SPARK_EXECUTOR = ["stdout", "stderr"]
      }
    }
    managedPersistenceMonitoringConfiguration = {
      enabled = true
    }
    s3MonitoringConfiguration = {
      logUri = local.job_log_uri
    }
  }
}

output "endpoint_subnet_ids" {
  description = "Subnets of the interface VPC endpoints: one per availability zone."
  value       = local.create_interface_endpoints ? local.endpoint_subnet_ids : []
}

output "job_log_uri" {
  description = "S3 URI of the jobs' logs (settings.spark.emr_log_uri; s3MonitoringConfiguration.logUri); the execution role may write there."
  value       = local.job_log_uri
}

output "bundle_root" {
  description = "Where to deploy the job bundle: sparkpg deploy --to <bundle_root>; settings.spark.emr_bundle_uri is its manifests/latest.json."
  value       = local.bundle_root
}

output "initial_capacity" {
  description = "Pre-initialised workers of the PostgreSQL application by type (Driver, Executor) in GetApplication's initialCapacity shape: workerCount, workerConfiguration.cpu/memory/disk (settings.spark.emr_initial_capacity)."
  value       = local.initial_capacity
}

output "settings" {
  description = "The backend settings (seed section 5.1, plus the submission keys) as an object."
  value       = local.settings
}

output "settings_json" {
  description = "The backend settings.json (seed section 5.1, plus the keys sparkpg submit needs: emr_execution_role_arn, emr_cloudwatch_log_group, emr_log_uri, emr_bundle_uri, emr_initial_capacity), ready to write to a file: terraform output -raw settings_json > settings.json."
  value       = jsonencode(local.settings)
}
