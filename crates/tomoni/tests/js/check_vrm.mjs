// Checks a VRM with two independent implementations, printing one JSON line:
// the Khronos glTF validator, and pixiv's three-vrm (three.js GLTFLoader + VRMLoaderPlugin).
// Usage: node check_vrm.mjs FILE.vrm   (NODE_PATH = folder holding node_modules)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const modules = process.env.TOMONI_NODE_MODULES;
const req = createRequire(path.join(modules, 'x.js'));
// ES modules by file: one three.js instance shared by GLTFLoader and three-vrm.
const imp = (p) => import(pathToFileURL(path.join(modules, p)).href);

const file = process.argv[2];
const bytes = readFileSync(file);
const out = { file };

const validator = req('gltf-validator');
const report = await validator.validateBytes(new Uint8Array(bytes), { maxIssues: 50 });
out.validator = {
  errors: report.issues.numErrors,
  warnings: report.issues.numWarnings,
  messages: report.issues.messages.filter((m) => m.severity === 0).map((m) => `${m.code} ${m.pointer ?? ''} ${m.message}`),
};

const THREE = await imp('three/build/three.module.js');
const { GLTFLoader } = await imp('three/examples/jsm/loaders/GLTFLoader.js');
const { VRMLoaderPlugin } = await imp('@pixiv/three-vrm/lib/three-vrm.module.js');
// Node cannot decode images (GLTFLoader's image path needs a browser's `self` and
// `createImageBitmap`; the reference test draws the textures in a real browser). Here each
// texture's image is read as far as a PNG's signature and size, and three.js gets an undecoded
// texture of that size: a texture that is not a PNG is still an error.
const textures = [];
class NodeTextures {
  constructor(parser) { this.parser = parser; this.name = 'tomoni_node_textures'; }
  async loadTexture(index) {
    const json = this.parser.json;
    const source = json.textures[index].source;
    const view = await this.parser.getDependency('bufferView', json.images[source].bufferView);
    const b = new Uint8Array(view);
    const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
    if (!sig.every((v, i) => b[i] === v)) throw new Error(`image ${source}: not a PNG`);
    const dv = new DataView(view);
    const size = { width: dv.getUint32(16), height: dv.getUint32(20) };
    const sampler = json.samplers?.[json.textures[index].sampler ?? -1] ?? {};
    textures.push({ image: source, ...size, repeats: sampler.wrapS === 10497 && sampler.wrapT === 10497 });
    const tex = new THREE.Texture(size);
    tex.flipY = false;
    return tex;
  }
}
const loader = new GLTFLoader();
loader.register((parser) => new NodeTextures(parser));
loader.register((parser) => new VRMLoaderPlugin(parser));
const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
try {
  const gltf = await loader.parseAsync(ab, '');
  const vrm = gltf.userData.vrm;
  const humanoid = vrm.humanoid;
  const bones = Object.keys(humanoid.humanBones).filter((b) => humanoid.getRawBoneNode(b));
  // Height from the rest pose as three.js sees it.
  const box = new THREE.Box3().setFromObject(vrm.scene);
  out.threeVrm = {
    specVersion: vrm.meta.metaVersion,
    name: vrm.meta.name,
    licenseUrl: vrm.meta.licenseUrl,
    bones,
    expressions: vrm.expressionManager.expressions.map((e) => e.expressionName),
    lookAt: !!vrm.lookAt,
    firstPerson: vrm.firstPerson ? vrm.firstPerson.meshAnnotations.length : 0,
    mtoonMaterials: (() => { const s = new Set(); vrm.scene.traverse((o) => { if (o.material) [].concat(o.material).forEach((m) => { if (m.isMToonMaterial) s.add(m.name); }); }); return s.size; })(),
    height: box.max.y - box.min.y,
    textures: textures.sort((a, b) => a.image - b.image),
  };
  // Spring bones as three-vrm simulates them: turn a bone quickly and what hangs from it must
  // lag behind (in the bone's own frame), then settle back to where it hangs at rest: the
  // hair at the back behind the head, a skirt's hem at the front behind the hips.
  const sbm = vrm.springBoneManager;
  out.threeVrm.springJoints = sbm ? sbm.joints.size : 0;
  const lagOf = (bone, tail) => {
    const turned = humanoid.getNormalizedBoneNode(bone);
    const raw = humanoid.getRawBoneNode(bone);
    const inBone = () => { vrm.scene.updateMatrixWorld(true); return raw.worldToLocal(tail.getWorldPosition(new THREE.Vector3())); };
    for (let i = 0; i < 30; i++) vrm.update(1 / 60);
    const rest = inBone();
    turned.rotation.y = 0.6;
    for (let i = 0; i < 3; i++) vrm.update(1 / 60);
    const lag = inBone().distanceTo(rest);
    for (let i = 0; i < 300; i++) vrm.update(1 / 60);
    return { lag, settled: inBone().distanceTo(rest) };
  };
  const tail = vrm.scene.getObjectByName(process.argv[3] || 'hair_6_2');
  if (sbm && tail) out.threeVrm.spring = lagOf('head', tail);
  const hem = vrm.scene.getObjectByName('skirt_0_2');
  if (sbm && hem) out.threeVrm.skirt = lagOf('hips', hem);
} catch (e) {
  out.threeVrm = { error: String(e && e.stack || e) };
}
console.log(JSON.stringify(out));
