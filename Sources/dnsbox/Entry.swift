import Applets

#if hasFeature(Embedded)
/// Embedded Swift has no CommandLine: take argc/argv from C.
@_cdecl("main")
func cMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    var args: [String] = []
    for i in 0..<Int(argc) {
        if let p = argv[i] { args.append(String(cString: p)) }
    }
    return dnsboxMain(args)
}
#else
@main
struct Entry {
    static func main() {
        exitProcess(dnsboxMain(CommandLine.arguments))
    }
}
#endif
