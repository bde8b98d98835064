service_name = {service} AND
