// The `idle` applet's service: the shared host with no protocol (config,
// logging, control socket, reload, signals). The supervision tests run it,
// and it is the smallest example of a `Service`.

import Config

public final class IdleService: Service {
    public init() {}
    public func start() -> Bool { true }
    public func reconfigure(_ next: Config) -> Reconfiguration { .applied }
}
