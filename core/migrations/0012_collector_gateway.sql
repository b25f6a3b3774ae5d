-- Gateways as devices (issue #15): an RS485-to-Ethernet gateway carrying
-- several meters is a device of kind 'gateway' with its own communication
-- state; each meter behind it names it here. While a gateway is offline its
-- meters raise no comm_interrupted of their own: the gateway's one alarm
-- stands for them.
CREATE TABLE device_gateway (
    device_id INTEGER PRIMARY KEY REFERENCES device(id),
    gateway_id INTEGER NOT NULL REFERENCES device(id)
);
