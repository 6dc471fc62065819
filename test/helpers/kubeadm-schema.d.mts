/** Types for the plain-JavaScript validator (it is also imported by the fake kubeadm executable). */
export interface KubeadmValidation {
  errors: string[];
  warnings: string[];
  documents: { apiVersion: string; kind: string }[];
}
export function validateKubeadmConfig(yamlText: string, opts?: { kubeadmVersion?: string }): KubeadmValidation;
export function knownKinds(): { apiVersion: string; kind: string }[];
export function loadApiFiles(): unknown;
