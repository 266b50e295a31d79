/** A read-only collection below one System (its NICs, its CPUs, ...) and its members, as GET answers them. */
import type { NodeStatus } from '../../../compute/index.js';
import { collection, systemUri, type Doc } from '../documents.js';
import { allow, missing, ok } from '../reply.js';
import type { NodeHandler } from '../router.js';

/** How the collection is described. */
export interface MemberCollection {
  /** Its path below the System. */
  path: string;
  /** Its schema type and name. */
  type: string;
  name: string;
  /** What a member is called in a 404 ("interface", "processor"). */
  noun: string;
}

/** The members of one node's collection. */
export interface Members {
  /** Member ids, in order; a member's URI is `<collection>/<id>`. */
  ids: readonly string[];
  /** The index of the member `id` names, or -1. Default: the id as it is. */
  indexOf?: (id: string) => number;
  /** The document of member `index`. */
  doc: (index: number) => Doc;
}

/**
 * Serves GET or HEAD of the collection (nothing below it) or of one member; 404 for a member that
 * is not there or anything below a member.
 */
export function memberCollection(c: MemberCollection, membersOf: (node: NodeStatus) => Members): NodeHandler {
  return (req, { node }, rest) => {
    allow('GET,HEAD', req.method);
    const uri = `${systemUri(node.uuid)}/${c.path}`;
    const m = membersOf(node);
    const [id, deeper] = rest;
    if (id === undefined)
      return ok(
        collection(
          uri,
          c.type,
          c.name,
          m.ids.map((x) => `${uri}/${x}`),
        ),
      );
    const index = m.indexOf ? m.indexOf(id) : m.ids.indexOf(id);
    if (index < 0 || deeper !== undefined) throw missing(`${c.noun} ${id}`);
    return ok(m.doc(index));
  };
}
