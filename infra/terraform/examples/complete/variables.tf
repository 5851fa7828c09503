variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Prefix of every name created."
  type        = string
  default     = "sparkpg"
}

variable "tags" {
  description = "Default tags of every resource."
  type        = map(string)
  default     = { project = "sparkpg" }
}

variable "vpc_cidr" {
  description = "CIDR block of the example VPC."
  type        = string
  default     = "10.42.0.0/16"
}

variable "availability_zone_count" {
  description = "Number of private subnets, one per availability zone."
  type        = number
  default     = 3

  validation {
    condition     = var.availability_zone_count >= 1 && var.availability_zone_count <= 6
    error_message = "availability_zone_count must be between 1 and 6."
  }
}

variable "jdbc_jar_source" {
  description = "Local path of the PostgreSQL JDBC JAR to upload."
  type        = string
}

variable "database_host" {
  description = "Host name of the PostgreSQL database (an Aurora reader endpoint, say)."
  type        = string
}

variable "postgres_username" {
  description = "User name stored in the credentials secret."
  type        = string
  sensitive   = true
}

variable "postgres_password" {
  description = "Password stored in the credentials secret (set TF_VAR_postgres_password; never commit it)."
  type        = string
  sensitive   = true
}

variable "secret_recovery_window_in_days" {
  description = "Recovery window of the secret on destroy (0 for throwaway environments)."
  type        = number
  default     = 30
}

variable "force_destroy_bucket" {
  description = "Let terraform destroy delete the artifacts bucket with its objects."
  type        = bool
  default     = false
}
