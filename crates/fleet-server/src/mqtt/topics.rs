//! IoT Hub's device topics: what a device publishes to, and which topic filters it may
//! subscribe to. Pure functions of the topic text and the device id.

/// What a device's `PUBLISH` is, by its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Incoming<'a> {
    /// `devices/{id}/messages/events/{property bag}`: telemetry.
    Telemetry,
    /// `$iothub/twin/GET/?$rid={rid}`: the device reads its twin.
    TwinGet { rid: &'a str },
    /// `$iothub/twin/PATCH/properties/reported/?$rid={rid}`: a reported-properties patch.
    Reported { rid: &'a str },
    /// `$iothub/methods/res/{status}/?$rid={rid}`: the answer to a direct method.
    MethodResponse { status: i64, rid: &'a str },
    /// Anything else: IoT Hub closes the connection.
    Unknown,
}

/// What a `SUBSCRIBE` topic filter asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subscription {
    /// `$iothub/methods/POST/#`: direct method requests.
    Methods,
    /// `$iothub/twin/res/#`: answers to twin requests.
    TwinResponses,
    /// `$iothub/twin/PATCH/properties/desired/#`: desired-property patches.
    DesiredPatches,
    /// `devices/{id}/messages/devicebound/#`: cloud-to-device messages (not served).
    CloudToDevice,
    /// Anything else.
    Other,
}

/// The value of `name` in the `?a=b&c=d` part at the end of `topic` (not url-decoded: request
/// ids are echoed as sent).
pub(crate) fn query_field<'a>(topic: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = topic.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// What a `PUBLISH` from device `device` to `topic` is.
pub(crate) fn incoming<'a>(topic: &'a str, device: &str) -> Incoming<'a> {
    if let Some(rest) = topic.strip_prefix("devices/") {
        let events = rest
            .strip_prefix(device)
            .and_then(|r| r.strip_prefix("/messages/events"));
        return match events {
            Some(r) if r.is_empty() || r.starts_with('/') => Incoming::Telemetry,
            _ => Incoming::Unknown,
        };
    }
    let Some(rid) = query_field(topic, "$rid").filter(|r| !r.is_empty()) else {
        return Incoming::Unknown;
    };
    let path = topic.split_once('?').map_or(topic, |(p, _)| p);
    match path.trim_end_matches('/') {
        "$iothub/twin/GET" => Incoming::TwinGet { rid },
        "$iothub/twin/PATCH/properties/reported" => Incoming::Reported { rid },
        p => match p.strip_prefix("$iothub/methods/res/").map(str::parse) {
            Some(Ok(status)) => Incoming::MethodResponse { status, rid },
            _ => Incoming::Unknown,
        },
    }
}

/// What a topic filter of device `device` asks for.
pub(crate) fn subscription(filter: &str, device: &str) -> Subscription {
    match filter {
        "$iothub/methods/POST/#" => Subscription::Methods,
        "$iothub/twin/res/#" => Subscription::TwinResponses,
        "$iothub/twin/PATCH/properties/desired/#" => Subscription::DesiredPatches,
        f => match f
            .strip_prefix("devices/")
            .and_then(|r| r.strip_prefix(device))
            .and_then(|r| r.strip_prefix("/messages/devicebound/"))
        {
            Some(_) => Subscription::CloudToDevice,
            None => Subscription::Other,
        },
    }
}

/// The topic of a direct method request.
pub(crate) fn method_request(name: &str, rid: u64) -> String {
    format!("$iothub/methods/POST/{name}/?$rid={rid}")
}

/// The topic of an answer to a twin request.
pub(crate) fn twin_response(status: u16, rid: &str, version: Option<u32>) -> String {
    match version {
        Some(v) => format!("$iothub/twin/res/{status}/?$rid={rid}&$version={v}"),
        None => format!("$iothub/twin/res/{status}/?$rid={rid}"),
    }
}

/// The topic of a desired-properties patch.
pub(crate) fn desired_patch(version: u32) -> String {
    format!("$iothub/twin/PATCH/properties/desired/?$version={version}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_sdks_topics() {
        let d = "dev-01";
        assert_eq!(
            incoming("devices/dev-01/messages/events/", d),
            Incoming::Telemetry
        );
        assert_eq!(
            incoming(
                "devices/dev-01/messages/events/%24.ct=application%2Fjson",
                d
            ),
            Incoming::Telemetry
        );
        assert_eq!(
            incoming("devices/dev-02/messages/events/", d),
            Incoming::Unknown
        );
        assert_eq!(
            incoming("devices/dev-011/messages/events/", d),
            Incoming::Unknown
        );
        assert_eq!(
            incoming("$iothub/twin/GET/?$rid=7", d),
            Incoming::TwinGet { rid: "7" }
        );
        assert_eq!(
            incoming("$iothub/twin/PATCH/properties/reported/?$rid=ab-1", d),
            Incoming::Reported { rid: "ab-1" }
        );
        assert_eq!(
            incoming("$iothub/methods/res/500/?$rid=12", d),
            Incoming::MethodResponse {
                status: 500,
                rid: "12"
            }
        );
        assert_eq!(
            incoming("$iothub/methods/res/x/?$rid=12", d),
            Incoming::Unknown
        );
        assert_eq!(
            incoming("$iothub/twin/GET/", d),
            Incoming::Unknown,
            "no $rid"
        );
        assert_eq!(incoming("$iothub/twin/PUT/?$rid=1", d), Incoming::Unknown);
        assert_eq!(
            subscription("$iothub/methods/POST/#", d),
            Subscription::Methods
        );
        assert_eq!(
            subscription("devices/dev-01/messages/devicebound/#", d),
            Subscription::CloudToDevice
        );
        assert_eq!(subscription("#", d), Subscription::Other);
        assert_eq!(query_field("a/?$rid=1&$version=3", "$version"), Some("3"));
    }

    proptest! {
        /// A request id survives the round trip through the topics the server writes.
        #[test]
        fn request_ids_are_echoed(rid in "[A-Za-z0-9-]{1,36}", status in 100u16..600) {
            let t = twin_response(status, &rid, Some(4));
            prop_assert_eq!(query_field(&t, "$rid"), Some(rid.as_str()));
            let answer = format!("$iothub/methods/res/{status}/?$rid={rid}");
            prop_assert_eq!(
                incoming(&answer, "d"),
                Incoming::MethodResponse { status: i64::from(status), rid: &rid }
            );
        }

        /// No topic makes the parser panic, and a telemetry topic is only the device's own.
        #[test]
        fn any_topic(topic in ".{0,80}", device in "[a-z0-9-]{1,8}") {
            if incoming(&topic, &device) == Incoming::Telemetry {
                let prefix = format!("devices/{device}/messages/events");
                prop_assert!(topic.starts_with(&prefix));
            }
        }
    }
}
