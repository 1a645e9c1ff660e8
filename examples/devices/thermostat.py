"""A thermostat on the official Python device SDK (pip install azure-iot-device) that joins
fleetsim serve's simulated fleet: python3 thermostat.py "<connection string>" [cert.pem]"""
import sys, time
from azure.iot.device import IoTHubDeviceClient, MethodResponse

cert = open(sys.argv[2] if len(sys.argv) > 2 else "cert.pem").read()
client = IoTHubDeviceClient.create_from_connection_string(sys.argv[1], server_verification_cert=cert)

def on_method(request):  # a command job, or a direct method
    print("method", request.name, request.payload)
    client.send_method_response(MethodResponse.create_from_method_request(request, 200, {"rebooted": True}))

def on_desired(patch):  # a property job: acknowledge as IoT Central expects
    print("desired", patch)
    if "targetTemperature" in patch:
        ack = {"value": patch["targetTemperature"], "ac": 200, "av": patch["$version"], "ad": "set"}
        client.patch_twin_reported_properties({"targetTemperature": ack})

client.on_method_request_received, client.on_twin_desired_properties_patch_received = on_method, on_desired
client.connect()
print("connected; waiting for jobs (Ctrl-C to stop)")
while True:
    time.sleep(60)
