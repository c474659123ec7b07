public import DeploySpec

/// Assigns GPUs to the replicas of the deployments on one slot target. Pure.
///
/// Placement is sticky: a replica that runs keeps its GPUs while they are still the target's and
/// still the count it needs, so scaling or changing one deployment never moves another one's
/// replicas (a move is a restart). Every other replica takes the lowest free ids — from the
/// target's `gpus` list, or `0, 1, 2 …` when the target declares none — in deployment-name
/// order; two replicas never share a GPU. `validate` refuses a manifest that needs more GPUs than
/// the list holds (`insufficient-gpus`); the placer refuses it again, in case it is called on its own.
public enum Placer {
    /// GPU ids per replica, by deployment name. `current` holds the GPUs of the replicas that run
    /// now, by `deployment/replica`.
    public static func place(_ deployments: [ResolvedDeployment], gpus pool: [Int]?,
                             current: [String: [Int]] = [:]) -> Result<[String: [[Int]]], RenderError> {
        let sorted = deployments.sorted { $0.deployment.name < $1.deployment.name }
        var taken: Set<Int> = []
        var out: [String: [[Int]?]] = [:]
        // 1. Replicas that run keep their GPUs when those are still valid.
        for r in sorted {
            let d = r.deployment
            out[d.name] = (0..<d.replicas).map { i in
                guard let ids = current["\(d.name)/\(i)"], ids.count == d.gpusPerReplica, Set(ids).count == ids.count,
                      pool.map({ p in ids.allSatisfy(p.contains) }) ?? true, taken.isDisjoint(with: ids) else { return nil }
                taken.formUnion(ids)
                return ids
            }
        }
        // 2. The others take the lowest free ids, in deployment-name order.
        var next = 0
        func free() -> Int? {
            if let pool { return pool.first { !taken.contains($0) } }
            while taken.contains(next) { next += 1 }
            return next
        }
        var result: [String: [[Int]]] = [:]
        for r in sorted {
            let d = r.deployment
            var replicas: [[Int]] = []
            for slot in out[d.name] ?? [] {
                if let slot { replicas.append(slot); continue }
                var ids: [Int] = []
                for _ in 0..<d.gpusPerReplica {
                    guard let id = free() else {
                        return .failure(RenderError(deployment: d.name, message: "needs more GPUs than the target's "
                                                    + "\(pool?.count ?? 0) (\(pool?.map(String.init).joined(separator: ",") ?? ""))"))
                    }
                    taken.insert(id)
                    ids.append(id)
                }
                replicas.append(ids)
            }
            result[d.name] = replicas
        }
        return .success(result)
    }
}
