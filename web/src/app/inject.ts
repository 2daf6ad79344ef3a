// How components reach the one controller of the page (provided by main.ts, or by a test).
import { inject, type InjectionKey } from 'vue';
import type { ChatController } from './controller';

export const controllerKey: InjectionKey<ChatController> = Symbol('pairchat.controller');

export function useController(): ChatController {
  const controller = inject(controllerKey);
  if (!controller) throw new Error('pairchat: no ChatController provided to this component tree');
  return controller;
}
