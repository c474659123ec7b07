/// What the Kubernetes API server accepts as names, label keys and values, and resource quantities:
/// the rules of `k8s.io/apimachinery/pkg/util/validation` and `pkg/api/resource`, as pure checks that
/// return why a value is refused (nil: accepted).
public enum KubernetesNames {
    /// A DNS-1123 label (namespaces, most names): at most 63 lowercase letters, digits and '-',
    /// starting and ending with a letter or digit.
    public static func dns1123LabelProblem(_ s: String) -> String? {
        if s.isEmpty { return "must not be empty" }
        if s.utf8.count > 63 { return "must be at most 63 characters (it has \(s.utf8.count))" }
        guard s.unicodeScalars.allSatisfy({ isLowerAlnum($0) || $0 == "-" }) else {
            return "may contain only lowercase letters, digits and '-'"
        }
        guard let f = s.unicodeScalars.first, let l = s.unicodeScalars.last, isLowerAlnum(f), isLowerAlnum(l) else {
            return "must start and end with a lowercase letter or digit"
        }
        return nil
    }

    /// A DNS-1035 label (Service names): a DNS-1123 label that starts with a letter.
    public static func dns1035LabelProblem(_ s: String) -> String? {
        if let p = dns1123LabelProblem(s) { return p }
        guard let f = s.unicodeScalars.first, ("a"..."z").contains(f) else { return "must start with a lowercase letter" }
        return nil
    }

    /// A DNS-1123 subdomain (Deployment, Secret and claim names): at most 253 characters, dot-separated
    /// DNS-1123 labels.
    public static func dns1123SubdomainProblem(_ s: String) -> String? {
        if s.isEmpty { return "must not be empty" }
        if s.utf8.count > 253 { return "must be at most 253 characters" }
        for part in s.split(separator: ".", omittingEmptySubsequences: false) {
            if part.isEmpty { return "must not have empty parts between dots" }
            guard part.unicodeScalars.allSatisfy({ isLowerAlnum($0) || $0 == "-" }),
                  let f = part.unicodeScalars.first, let l = part.unicodeScalars.last, isLowerAlnum(f), isLowerAlnum(l) else {
                return "may contain only lowercase letters, digits, '-' and '.', each part starting and ending with a letter or digit"
            }
        }
        return nil
    }

    /// A label value: empty, or at most 63 letters, digits, '-', '_' and '.', starting and ending
    /// with a letter or digit.
    public static func labelValueProblem(_ s: String) -> String? {
        if s.isEmpty { return nil }
        return qualifiedPartProblem(s)
    }

    /// A label or annotation key: `[prefix/]name`, the prefix a DNS-1123 subdomain, the name a
    /// qualified name part.
    public static func labelKeyProblem(_ s: String) -> String? {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return qualifiedPartProblem(s)
        case 2:
            if let p = dns1123SubdomainProblem(String(parts[0])) { return "prefix '\(parts[0])' \(p)" }
            return qualifiedPartProblem(String(parts[1])).map { "name '\(parts[1])' \($0)" }
        default: return "may contain at most one '/'"
        }
    }

    static func qualifiedPartProblem(_ s: String) -> String? {
        if s.isEmpty { return "must not be empty" }
        if s.utf8.count > 63 { return "must be at most 63 characters (it has \(s.utf8.count))" }
        guard s.unicodeScalars.allSatisfy({ isAlnum($0) || $0 == "-" || $0 == "_" || $0 == "." }) else {
            return "may contain only letters, digits, '-', '_' and '.'"
        }
        guard let f = s.unicodeScalars.first, let l = s.unicodeScalars.last, isAlnum(f), isAlnum(l) else {
            return "must start and end with a letter or digit"
        }
        return nil
    }

    /// A resource quantity (`16Gi`, `500m`, `1.5`, `1e3`): a decimal number and an optional suffix
    /// (binary `Ki Mi Gi Ti Pi Ei`, decimal `n u m k M G T P E`, or an exponent), as
    /// `resource.ParseQuantity` reads it.
    public static func quantityProblem(_ s: String) -> String? {
        var rest = Substring(s)
        if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
        let digits = rest.prefix { ("0"..."9").contains($0) || $0 == "." }
        let number = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard !digits.isEmpty, digits != ".", number.count <= 2 else {
            return "is not a quantity (a number with an optional unit such as 16Gi, 500Mi or 2)"
        }
        let suffix = String(rest.dropFirst(digits.count))
        let units: Set<String> = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"]
        if units.contains(suffix) { return nil }
        if let e = suffix.first, e == "e" || e == "E" {
            var exp = suffix.dropFirst()
            if exp.first == "+" || exp.first == "-" { exp = exp.dropFirst() }
            if !exp.isEmpty, exp.allSatisfy({ ("0"..."9").contains($0) }) { return nil }
        }
        return "has an unknown unit '\(suffix)' (binary Ki Mi Gi Ti Pi Ei, or decimal k M G T P E)"
    }

    /// Docker's size syntax (`16g`, `512m`, `1024k`, `100b`, plain bytes) as a Kubernetes quantity
    /// (`16Gi`, `512Mi`, `1Ki`, `100`); nil when it is neither.
    public static func quantity(fromDockerSize s: String) -> String? {
        let lower = s.lowercased()
        guard let last = lower.last else { return nil }
        let (number, unit): (Substring, String)
        switch last {
        case "k": (number, unit) = (lower.dropLast(), "Ki")
        case "m": (number, unit) = (lower.dropLast(), "Mi")
        case "g": (number, unit) = (lower.dropLast(), "Gi")
        case "b": (number, unit) = (lower.dropLast(), "")
        default: (number, unit) = (Substring(lower), "")
        }
        guard !number.isEmpty, number.allSatisfy({ ("0"..."9").contains($0) }), let n = Int(number), n > 0 else { return nil }
        return String(n) + unit
    }

    private static func isLowerAlnum(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("0"..."9").contains(c) }
    private static func isAlnum(_ c: Unicode.Scalar) -> Bool { isLowerAlnum(c) || ("A"..."Z").contains(c) }
}
