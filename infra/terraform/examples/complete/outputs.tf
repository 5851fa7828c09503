output "postgres_application_id" {
  description = "Id of the PostgreSQL-enabled EMR Serverless application."
  value       = module.sparkpg.postgres_application_id
}

output "emr_application_id" {
  description = "Id of the plain EMR Serverless application."
  value       = module.sparkpg.emr_application_id
}

output "execution_role_arn" {
  description = "ARN of the EMR Serverless execution role."
  value       = module.sparkpg.execution_role_arn
}

output "secret_arn" {
  description = "ARN of the credentials secret."
  value       = module.sparkpg.secret_arn
}

output "jdbc_driver_s3_uri" {
  description = "S3 URI of the JDBC JAR."
  value       = module.sparkpg.jdbc_driver_s3_uri
}

output "bucket_name" {
  description = "Name of the artifacts bucket."
  value       = module.sparkpg.bucket_name
}

output "security_group_id" {
  description = "Security group of the EMR Serverless application."
  value       = module.sparkpg.security_group_id
}

output "database_security_group_id" {
  description = "Security group standing in for the database's."
  value       = aws_security_group.database.id
}

output "vpc_id" {
  description = "Id of the example VPC."
  value       = aws_vpc.this.id
}

output "subnet_ids" {
  description = "Ids of the private subnets."
  value       = aws_subnet.private[*].id
}

output "vpc_endpoint_ids" {
  description = "Ids of the VPC endpoints by service."
  value       = module.sparkpg.vpc_endpoint_ids
}

output "log_group_name" {
  description = "CloudWatch log group of the jobs."
  value       = module.sparkpg.log_group_name
}

output "job_monitoring_configuration" {
  description = "configurationOverrides.monitoringConfiguration for StartJobRun."
  value       = module.sparkpg.job_monitoring_configuration
}

output "settings_json" {
  description = "The backend settings.json: terraform output -raw settings_json > settings.json."
  value       = module.sparkpg.settings_json
}

output "bundle_root" {
  description = "Where to deploy the job bundle: sparkpg deploy --to <bundle_root>."
  value       = module.sparkpg.bundle_root
}

output "initial_capacity" {
  description = "Pre-initialised workers of the PostgreSQL application (GetApplication's initialCapacity shape)."
  value       = module.sparkpg.initial_capacity
}
