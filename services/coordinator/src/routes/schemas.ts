// JSON schemas shared by the coordinator's routes (R-CO-1): ids, the zone query, action routes without a body, pages.
export const uuid = { type: 'string', format: 'uuid' } as const;
/** zone_id is required with the coordinator token and optional with a mandate (zoneOf decides). */
export const zoneQuery = { type: 'object', additionalProperties: false, properties: { zone_id: uuid } } as const;
export const idParams = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: uuid } } as const;
/** Action routes take no body; an empty object is tolerated, anything in it is an unknown field. */
export const noBody = { type: ['object', 'null'], additionalProperties: false, properties: {} } as const;
/** The query string of a list route: the page size and cursor ride along with its filters. */
export const pageQuery = { limit: { type: 'string', maxLength: 8 }, cursor: { type: 'string', minLength: 1, maxLength: 200 } } as const;
/** A page of items and the cursor of the next one (null on the last). */
export const pageOut = <T extends object>(item: T) => ({ type: 'object', properties: { items: { type: 'array', items: item }, next_cursor: { type: ['string', 'null'] } } }) as const;

export type Zoned = { Querystring: { zone_id?: string } };
export type ById = Zoned & { Params: { id: string } };
