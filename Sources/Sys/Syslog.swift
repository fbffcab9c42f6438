import CShim

public enum Syslog {
    public enum Priority: Int32 { case error = 3, warning = 4, info = 6, debug = 7 }

    public static func open(ident: String) { dx_syslog_open(ident) }
    public static func log(_ prio: Priority, _ message: String) { dx_syslog(prio.rawValue, message) }
}
