// apictl's three faces: under a web server a CGI program, `apictl serve`
// the HTTP API service, anything else the command-line client.

import Daemon
import Sys

public enum ApictlApplet {
    public static func main(_ info: AppletInfo, _ args: [String]) -> Int32 {
        if Sys.getenv("GATEWAY_INTERFACE") != nil { return ApiCGI.run() }
        let opts: CommonOptions
        switch CommonOptions.parse(args) {
        case .success(let o): opts = o
        case .failure(let e): return usageFailure(e, info.usage)
        }
        if opts.rest.first == "serve" { return Daemon.main(info, args) { ApictlService(host: $0) } }
        return ApiClient.run(opts)
    }
}
