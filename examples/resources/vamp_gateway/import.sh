# A gateway is imported by its name.
terraform import vamp_gateway.public public/9060
