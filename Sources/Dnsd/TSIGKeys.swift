// The TSIG keys of the config (`config tsig_key`), for transfers and NOTIFY
// (RFC 8945): parsed once per rebuild, shared by the answerer (which
// verifies and signs) and the zones that name one (`option tsig_key`).

import Config
import DNS
import Sys

struct TSIGKeys {
    /// By key name and by section name (lowercased, no final dot).
    var byName: [String: TSIGKey] = [:]
    /// Each key once, in config order.
    var all: [TSIGKey] = []
    var errors: [String] = []

    @inline(never) init(_ c: Config) {
        for s in c.tsigKeys {
            let key: TSIGKey
            do throws(TSIGKeyError) {
                key = try TSIGKey(name: s.name, algorithm: s.algorithm, secret: s.secret)
            } catch {
                errors.append("tsig_key section at \(s.location.description): \(error.description); the key is not used")
                continue
            }
            let name = Names.normalize(key.name.description)
            if byName[name] != nil {
                errors.append("tsig_key section at \(s.location.description): key '\(name)' is declared twice; the first is used")
                continue
            }
            byName[name] = key
            all.append(key)
        }
        // A section named otherwise than its key can be named too.
        for s in c.tsigKeys {
            if let n = s.section, let k = byName[Names.normalize(s.name)], byName[Names.normalize(n)] == nil {
                byName[Names.normalize(n)] = k
            }
        }
    }

    /// True when both are absent, or the same name, algorithm and secret.
    static func same(_ a: TSIGKey?, _ b: TSIGKey?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return a.name == b.name && a.algorithm == b.algorithm && a.secret == b.secret
    }

    /// The key a zone names. One that is not configured yields a key no
    /// peer holds (a random secret): the zone's transfers and NOTIFYs fail
    /// closed instead of going unsigned.
    func key(named text: String) -> (TSIGKey, known: Bool) {
        if let k = byName[Names.normalize(text)] { return (k, true) }
        let name = (try? DomainName(Names.normalize(text) + ".")) ?? DomainName.root
        return (TSIGKey(name: name, secret: unknownKeySecret), false)
    }
}

/// The secret of keys a zone names but the config lacks: random, drawn
/// once per process (the same from one rebuild to the next).
private let unknownKeySecret: [UInt8] = {
    var secret: [UInt8] = []
    for _ in 0..<4 {
        var r = Sys.random64()
        for _ in 0..<8 {
            secret.append(UInt8(truncatingIfNeeded: r))
            r >>= 8
        }
    }
    return secret
}()
