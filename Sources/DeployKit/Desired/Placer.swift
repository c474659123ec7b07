public import DeploySpec

/// Assigns GPUs to the replicas of the deployments on one slot target. Pure.
///
/// Deployments take GPUs in name order, each replica a consecutive slice of the target's `gpus`
/// list (or of `0, 1, 2 …` when the target declares none), so two deployments on one host never
/// share a GPU. `validate` refuses a manifest that needs more GPUs than the list holds
/// (`insufficient-gpus`); the placer refuses it again, in case it is called on its own.
public enum Placer {
    /// GPU ids per replica, by deployment name.
    public static func place(_ deployments: [ResolvedDeployment], gpus pool: [Int]?) -> Result<[String: [[Int]]], RenderError> {
        var next = 0
        var out: [String: [[Int]]] = [:]
        for r in deployments.sorted(by: { $0.deployment.name < $1.deployment.name }) {
            let d = r.deployment
            var replicas: [[Int]] = []
            for _ in 0..<d.replicas {
                var ids: [Int] = []
                for _ in 0..<d.gpusPerReplica {
                    if let pool {
                        guard next < pool.count else {
                            return .failure(RenderError(deployment: d.name, message: "needs more GPUs than the target's "
                                                        + "\(pool.count) (\(pool.map(String.init).joined(separator: ",")))"))
                        }
                        ids.append(pool[next])
                    } else {
                        ids.append(next)
                    }
                    next += 1
                }
                replicas.append(ids)
            }
            out[d.name] = replicas
        }
        return .success(out)
    }
}
