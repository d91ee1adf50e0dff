# A deployment is imported by its name; gateways and services are read back from the gateway
# and the runtime.
terraform import vamp_deployment.sava sava
