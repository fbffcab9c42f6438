import CShim

/// Linux capabilities an applet may declare it needs after start-up.
public enum Capability: Int32 {
    case chown = 0, dacOverride = 1, kill = 5, setgid = 6, setuid = 7
    case netBindService = 10, netBroadcast = 11, netAdmin = 12, netRaw = 13

    public var name: String {
        switch self {
        case .chown: return "CAP_CHOWN"
        case .dacOverride: return "CAP_DAC_OVERRIDE"
        case .kill: return "CAP_KILL"
        case .setgid: return "CAP_SETGID"
        case .setuid: return "CAP_SETUID"
        case .netBindService: return "CAP_NET_BIND_SERVICE"
        case .netBroadcast: return "CAP_NET_BROADCAST"
        case .netAdmin: return "CAP_NET_ADMIN"
        case .netRaw: return "CAP_NET_RAW"
        }
    }
}

public enum Privileges {
    public static func lookupUser(_ name: String) -> (uid: UInt32, gid: UInt32)? {
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        if dx_lookup_user(name, &uid, &gid) != 0 { return nil }
        return (uid, gid)
    }

    /// Switches to `user` (when given) and keeps only `keep` among the
    /// capabilities this process has. Not root and no user: trims what it can.
    public static func drop(toUser user: String?, keep: [Capability]) throws(SysError) {
        var switchUser: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        if let user {
            guard let ids = lookupUser(user) else { throw SysError("unknown user '\(user)'", code: Int32(DX_ENOENT)) }
            (uid, gid) = ids
            switchUser = 1
        }
        let caps = keep.map { $0.rawValue }
        let rc = caps.withUnsafeBufferPointer { dx_drop_privileges(switchUser, uid, gid, $0.baseAddress, Int32($0.count)) }
        if rc != 0 { throw SysError.last(user.map { "switch to user \($0)" } ?? "drop capabilities") }
    }

    public static func has(_ cap: Capability) -> Bool { dx_has_cap(cap.rawValue) != 0 }
}
