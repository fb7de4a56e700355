// TypeDoc plugin: a `{@link Name}` in an adapter's TSDoc (breakwater/grpc, /http, /nats)
// that names a core export (`AttemptTimeoutError`, `Policy`) without importing it resolves
// to the core's page, as a reader of `breakwater`'s API would expect. Only names that TypeDoc
// could not resolve otherwise reach this resolver; anything else still fails the build.
export function load(app) {
  app.converter.addUnknownSymbolResolver((ref, reflection) => {
    if (ref.moduleSource !== undefined || ref.symbolReference?.path === undefined) return undefined;
    const name = ref.symbolReference.path.map((part) => part.path).join('.');
    const core = reflection.project.getChildByName('index');
    const target = core?.getChildByName(name);
    // TypeDoc takes a reflection as the target as it takes a URL: a link inside the reference.
    return target === undefined ? undefined : { target, caption: name };
  });
}
